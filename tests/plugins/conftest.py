from __future__ import annotations

import pytest

from workshop import Workshop


@pytest.fixture
def workshop(tmp_path, monkeypatch):
    """Plugin distributions written to a folder on ``sys.path``; env cleared."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("MOE_CONSOLE_PLUGINS", raising=False)
    monkeypatch.delenv("MOE_CONSOLE_DISABLE_PLUGINS", raising=False)
    shop = Workshop(root)
    yield shop
    shop.cleanup()

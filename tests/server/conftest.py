from __future__ import annotations

import pytest

from .serving import start_server


@pytest.fixture(scope="session")
def server():
    """One server on the built-in model, shared by the tests that do not stop it."""
    served = start_server()
    yield served
    assert served.stop() == 0


@pytest.fixture(scope="session")
def long_model(tmp_path_factory):
    """A tiny random V3 checkpoint with a 4,096-token window and the built-in tokenizer."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "plugins" / "tiny_model.py"
    spec = importlib.util.spec_from_file_location("serve_tiny_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_model(tmp_path_factory.mktemp("long") / "long-tiny", max_position_embeddings=4096)

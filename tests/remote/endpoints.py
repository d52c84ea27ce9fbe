"""Fixtures of the remote and loadgen tests (imported by both conftests).

``served`` and ``locked`` are real ``moe-console serve`` processes on free
loopback ports, one of each for the whole session (see served.py). Everything
a real server does is tested against them.

``standin`` is a stand-in for a *misbehaving* or *foreign* endpoint
(standin.py: a real Starlette/uvicorn server whose "model" echoes words): it
answers 500, SGLang's flat error body, cuts a stream, sends malformed SSE,
stalls, and prints the metric names and ``owned_by`` of servers we cannot run
here (vLLM, SGLang, llama.cpp). It is used only for what a real ``serve``
cannot be made to do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from served import shared  # noqa: E402
from standin import StandIn  # noqa: E402


@pytest.fixture(scope="session")
def served():
    """``moe-console serve`` on the built-in model, default flags."""
    with shared("plain") as server:
        yield server


@pytest.fixture(scope="session")
def locked():
    """``moe-console serve --max-batch 1 --api-key-env ONE_SEQ_KEY`` (the README's second server)."""
    with shared("locked") as server:
        yield server


@pytest.fixture
def standin():
    with StandIn() as server:
        yield server


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Every test gets its own MOE_CONSOLE_HOME (settings and data directory)."""
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path / "home"))
    for var in ("MOE_CONSOLE_PLUGINS", "MOE_CONSOLE_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)

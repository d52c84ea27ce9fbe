"""Fixtures of the remote and loadgen tests (imported by both conftests): endpoints on free loopback ports.

``endpoint_url`` is the one fixture that yields an OpenAI-compatible base URL
for tests that only need *an* endpoint. By default it is the stand-in
(:mod:`standin`, a real Starlette/uvicorn server that echoes words); with
``MOE_CONSOLE_TEST_ENDPOINT=serve`` it is the real ``moe-console serve`` on the
built-in model, and with ``MOE_CONSOLE_TEST_ENDPOINT=http://...`` that URL.
Tests of failure modes and of exact figures keep using the stand-in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from standin import StandIn  # noqa: E402


@pytest.fixture
def standin():
    with StandIn() as server:
        yield server


@pytest.fixture
def endpoint_url():
    choice = os.environ.get("MOE_CONSOLE_TEST_ENDPOINT", "standin")
    if choice == "serve":
        from console.loadgen.spawn import serve

        with serve() as url:
            yield url
    elif choice.startswith("http"):
        yield choice
    else:
        with StandIn() as server:
            yield server.base_url


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Every test gets its own MOE_CONSOLE_HOME (settings and data directory)."""
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path / "home"))
    for var in ("MOE_CONSOLE_PLUGINS", "MOE_CONSOLE_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)

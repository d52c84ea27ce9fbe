"""Fixtures of the console-core tests: an isolated home, the real plugin host
with the scripted stand-in backends, a real SQLite store in tmp_path."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import pytest

import core_scripted
from console.metrics import Metrics
from console.plugins import PluginHost, PluginRecord
from console.settings import Settings
from console.store import Store


def make_host() -> PluginHost:
    """A real PluginHost whose only plugin is :mod:`core_scripted`, found
    through an entry point as an installed plugin would be."""
    sys.modules.setdefault("core_scripted", core_scripted)
    ep = EntryPoint(name="scripted", value="core_scripted", group="moe_console")
    record = PluginRecord(name="scripted", version="0", distribution="moe-console-core-tests",
                          value=ep.value, entry_point=ep)
    return PluginHost([record])


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path / "home"))
    core_scripted.LOG["requests"].clear()
    core_scripted.LOG["closed"].clear()
    core_scripted.LOG["probes"].clear()
    core_scripted.PROBE.clear()
    core_scripted.STALLED.clear()
    return tmp_path / "home"


@pytest.fixture
def host():
    return make_host()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "conversations.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as s:
        yield s


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def settings():
    return Settings(default_backend="scripted")


@pytest.fixture
def metrics(clock):
    return Metrics(clock=clock)

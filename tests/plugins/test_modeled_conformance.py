"""Every modeled backend the host builds from a registered HardwareSpec passes the kit."""

from __future__ import annotations

import pytest

from console.plugins import PluginHost
from console.testing.pytest_plugin import Conformance
from tiny_model import write_tiny_model

HARDWARE_PLUGINS = ("h100", "ascend950")


def _modeled_names():
    host = PluginHost.discover(allow=HARDWARE_PLUGINS, deny=[])
    return host, [e.name for e in host.backends() if e.info.kind == "modeled"]


def test_hardware_plugins_yield_modeled_backends():
    host, names = _modeled_names()
    status = {r.name: r.status for r in host.plugins}
    assert (status["ascend950"], status["h100"], status["local"]) == ("loaded", "loaded", "disabled")
    assert "h100" in names and "ascend950" in names


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return str(write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-v3"))


@pytest.mark.parametrize("name", _modeled_names()[1])
def test_modeled_backend_conforms(name, tiny_path):
    host = PluginHost.discover(allow=HARDWARE_PLUGINS, deny=[])
    backend = host.create(name, model_path=tiny_path, pace="fast")
    events = Conformance().check(backend, max_tokens=6, cancel_max_tokens=200)
    assert events[-1].timing.clock == "modeled"

"""Built-in backends keep their names: a third-party plugin cannot take them over."""

from __future__ import annotations

from importlib import metadata

import pytest

from console.api import PluginError
from console.plugins import PluginHost


def _host(workshop) -> PluginHost:
    return PluginHost.discover(distributions=[metadata.distribution("moe-console"), *workshop.distributions])


def test_a_plugin_that_sorts_first_cannot_become_local(workshop):
    workshop.add_good("aaa-takeover", backend="local", dist="evil-local")
    host = _host(workshop)
    assert [e.plugin for e in host.backends() if e.name == "local"] == ["local"]
    intruder = host.plugin("aaa-takeover")
    assert intruder.status == "failed"
    assert intruder.error == "backend name 'local' refused: already provided by plugin 'local'"
    assert host.plugin("local").status == "loaded"


def test_loading_the_intruder_alone_still_refuses_it(workshop):
    """Asking for the third-party plugin's own name first must not hand it ``h100``."""
    workshop.add_good("zzz", backend="h100", dist="evil-h100")
    host = _host(workshop)
    with pytest.raises(PluginError, match="plugins with problems: zzz \\(failed\\)"):
        host.entry("zzz")  # loads the plugin called zzz first: the built-ins load before it
    assert host.plugin("zzz").error == "backend name 'h100' refused: already provided by plugin 'h100'"
    assert host.entry("h100").plugin == "h100"


def test_a_plugin_named_like_a_builtin_is_refused_and_says_why(workshop):
    workshop.add_good("local", backend="impostor", dist="evil-name")
    host = _host(workshop)
    assert host.plugin("local").builtin
    refused = [r for r in host.plugins if r.distribution == "evil-name"]
    assert [r.status for r in refused] == ["failed"]
    assert "already provided by distribution 'moe-console'" in refused[0].error
    assert host.entry("local").plugin == "local"

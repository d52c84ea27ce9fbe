"""Discovery reads package metadata only; allow/deny lists; lazy loading."""

from __future__ import annotations

import pytest

from console.api import PluginError
from console.plugins import PluginHost


def test_lists_plugins_from_metadata_without_importing(workshop):
    a = workshop.add_good("alpha", version="2.3.4", dist="alpha-dist")
    b = workshop.add_good("beta")
    host = workshop.host()
    rows = {r.name: r for r in host.plugins}
    assert set(rows) == {"alpha", "beta"}
    assert (rows["alpha"].version, rows["alpha"].distribution) == ("2.3.4", "alpha-dist")
    assert rows["alpha"].value == a
    assert all(r.status == "not loaded" and r.hooks == () and r.api_version is None for r in rows.values())
    assert not workshop.imported(a) and not workshop.imported(b)


def test_default_discovery_reads_every_distribution_on_sys_path(workshop):
    module = workshop.add_good("gamma")
    names = {r.name: r for r in PluginHost.discover().plugins}
    assert names["gamma"].distribution == "moe-console-gamma"
    assert {"local", "h100", "ascend950"} <= set(names)  # the built-ins, installed with moe-console
    assert not workshop.imported(module)


def test_load_all_imports_and_reports_hooks_backends_and_api(workshop):
    module = workshop.add_good("alpha", backend="parrot")
    host = workshop.host()
    host.load_all()
    record = host.plugin("alpha")
    assert workshop.imported(module)
    assert record.status == "loaded" and record.error is None
    assert record.hooks == ("register_backends",)
    assert record.backends == ("parrot",)
    assert (record.api_version, record.api_declared) == ("1.0", True)
    entry = host.backends()[0]
    assert (entry.name, entry.plugin, entry.info.kind) == ("parrot", "alpha", "remote")
    assert [o.name for o in entry.options] == ["words"]


def test_backend_lookup_imports_only_the_plugin_it_needs(workshop):
    a = workshop.add_good("alpha")
    b = workshop.add_good("beta")
    backend = workshop.host().create("beta", words=2)
    assert backend.settings == {"words": 2}
    assert workshop.imported(b) and not workshop.imported(a)


@pytest.mark.parametrize(
    ("env", "value", "loaded"),
    [
        ("MOE_CONSOLE_PLUGINS", "alpha", {"alpha"}),
        ("MOE_CONSOLE_PLUGINS", " alpha , moe-console-beta ", {"alpha", "beta"}),  # dist names too
        ("MOE_CONSOLE_PLUGINS", "", set()),  # set but empty: the kill switch
        ("MOE_CONSOLE_DISABLE_PLUGINS", "beta", {"alpha"}),
        ("MOE_CONSOLE_DISABLE_PLUGINS", "moe_console_alpha,beta", set()),
    ],
)
def test_environment_allow_and_deny_lists(workshop, monkeypatch, env, value, loaded):
    modules = {"alpha": workshop.add_good("alpha"), "beta": workshop.add_good("beta")}
    monkeypatch.setenv(env, value)
    host = workshop.host()
    host.load_all()
    status = {r.name: r.status for r in host.plugins}
    assert {n for n, s in status.items() if s == "loaded"} == loaded
    for name in {"alpha", "beta"} - loaded:
        assert status[name] == "disabled"
        assert env in host.plugin(name).error
        assert not workshop.imported(modules[name])
    assert {e.name for e in host.backends()} == loaded


def test_explicit_lists_override_the_environment(workshop, monkeypatch):
    workshop.add_good("alpha")
    workshop.add_good("beta")
    monkeypatch.setenv("MOE_CONSOLE_PLUGINS", "")
    host = workshop.host(allow=["beta"], deny=[])
    assert {r.name: r.status for r in host.plugins} == {"alpha": "disabled", "beta": "not loaded"}


def test_disabled_backend_lookup_names_the_known_ones(workshop, monkeypatch):
    workshop.add_good("alpha")
    workshop.add_good("beta")
    monkeypatch.setenv("MOE_CONSOLE_DISABLE_PLUGINS", "beta")
    with pytest.raises(PluginError, match=r"unknown backend 'beta'; known: alpha"):
        workshop.host().create("beta")


def test_same_plugin_name_from_two_distributions(workshop):
    workshop.add_good("alpha", dist="first-dist")
    workshop.add_good("alpha", dist="second-dist")
    host = workshop.host()
    host.load_all()
    first, second = host.plugins
    assert (first.distribution, first.status) == ("first-dist", "loaded")
    assert second.status == "failed"
    assert "already provided by distribution 'first-dist'" in second.error

"""API versions from distribution metadata (refused before import), undeclared versions
shown as such, and the deprecation path of a hook (pluggy's warn_on_impl)."""

from __future__ import annotations

import types
from importlib import metadata

from console.api import API_GROUP, deprecated_hookspec, metadata_reference
from console.api.version import version_from_reference
from console.cli.plugins import render_table

PLUGIN = '''
from console.api import Backend, BackendInfo, hookimpl

class Versioned(Backend):
    info = BackendInfo(name="versioned", display_name="V", kind="remote")
    async def stream(self, request):
        yield None

@hookimpl
def register_backends(register):
    register(Versioned)
'''


def _declare(workshop, api_value: str) -> None:
    """Add a moe_console.api entry point to the last distribution the workshop wrote."""
    dist = workshop.distributions[-1]
    info = dist._path  # the dist-info folder (importlib.metadata.PathDistribution)
    text = (info / "entry_points.txt").read_text()
    plugin = text.splitlines()[1].split(" = ")[0]
    (info / "entry_points.txt").write_text(text + f"\n[{API_GROUP}]\n{plugin} = {api_value}\n")
    workshop.distributions[-1] = metadata.Distribution.at(info)


def test_version_references_round_trip():
    assert metadata_reference("1.0") == "console.api.version:v1_0"
    assert version_from_reference(metadata_reference("3.12")) == "3.12"
    assert version_from_reference("moe_console_x") is None


def test_an_incompatible_plugin_is_refused_from_its_metadata_without_import(workshop):
    module = workshop.add("future", PLUGIN)
    _declare(workshop, "console.api.version:v2_0")
    host = workshop.host()
    record = host.plugin("future")
    assert (record.status, record.api_version, record.api_source) == ("incompatible", "2.0", "metadata")
    assert "built for plugin API '2.0'" in record.error
    host.load_all()
    assert not workshop.imported(module) and host.backends() == []


def test_a_compatible_declaration_is_read_before_import(workshop):
    module = workshop.add("now", PLUGIN)
    _declare(workshop, "console.api.version:v1_0")
    host = workshop.host()
    record = host.plugin("now")
    assert (record.status, record.api_version, record.api_declared) == ("not loaded", "1.0", True)
    assert not workshop.imported(module)
    host.load_all()
    assert record.status == "loaded" and record.backends == ("versioned",)


def test_an_undeclared_version_is_shown_as_undeclared(workshop):
    workshop.add("quiet", PLUGIN)
    host = workshop.host()
    host.load_all()
    record = host.plugin("quiet")
    assert (record.status, record.api_version) == ("loaded", None)
    table = render_table(host.plugins, "1.0", loaded=True)
    row = next(line for line in table.splitlines() if line.startswith("quiet"))
    assert row.split()[-1] == "undeclared"
    assert "states no API version" in table


def test_a_deprecated_hook_still_works_and_warns_through_the_host(workshop):
    @deprecated_hookspec(since="1.1", removed_in="2.0", instead="register_backends")
    def register_models(register):
        """An old hook on its way out."""

    specs = types.SimpleNamespace(register_models=register_models)
    workshop.add("old", PLUGIN + '''
@hookimpl
def register_models(register):
    register("old-style")
''')
    host = workshop.host(extra_hookspecs=[specs])
    host.load_all()
    record = host.plugin("old")
    assert record.status == "loaded" and "register_models" in record.hooks
    assert record.warnings == ("hook 'register_models' is deprecated since plugin API 1.1 and is removed in "
                               "2.0; implement 'register_backends' instead",)
    table = render_table(host.plugins, "1.0", loaded=True)
    assert "warning: hook 'register_models' is deprecated" in table

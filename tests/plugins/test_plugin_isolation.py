"""Broken plugins are marked failed with a readable error; the rest keep working."""

from __future__ import annotations

import sys
import types

import pytest

from console.api import Backend, BackendInfo, OptionError, PluginError

BROKEN_IMPORT = "import no_such_module_for_moe_console_tests\n"
BROKEN_SYNTAX = "from console.api import hookimpl\n\ndef register_backends(register)\n    pass\n"
HOOK_RAISES = """
from console.api import hookimpl
MOE_CONSOLE_API = "1.0"

@hookimpl
def register_backends(register):
    raise RuntimeError("registry on fire")
"""
API = """
from console.api import Backend, BackendInfo, hookimpl
{declaration}

class B(Backend):
    info = BackendInfo(name="versioned", display_name="V", kind="remote")
    async def stream(self, request):
        yield None

@hookimpl
def register_backends(register):
    register(B)
"""
UNKNOWN_HOOK = """
from console.api import hookimpl
MOE_CONSOLE_API = "1.0"

@hookimpl
def register_backend(register):  # typo: the hook is register_backends
    pass
"""
NOT_A_BACKEND = """
from console.api import hookimpl
MOE_CONSOLE_API = "1.0"

@hookimpl
def register_backends(register):
    register(dict)
"""
BAD_OPTION_DEFAULT = """
from console.api import Backend, BackendInfo, Option, hookimpl
MOE_CONSOLE_API = "1.0"

class B(Backend):
    info = BackendInfo(name="badopt", display_name="B", kind="remote")
    options = (Option("level", "int", 0, "level from 1 to 3", minimum=1, maximum=3),)
    async def stream(self, request):
        yield None

@hookimpl
def register_backends(register):
    register(B)
"""
CONSTRUCTOR_RAISES = """
from console.api import Backend, BackendInfo, hookimpl
MOE_CONSOLE_API = "1.0"

class B(Backend):
    info = BackendInfo(name="fragile", display_name="F", kind="remote")
    def __init__(self, **settings):
        raise KeyError("config")
    async def stream(self, request):
        yield None

@hookimpl
def register_backends(register):
    register(B)
"""
HARDWARE = """
from console.api import Figure, HardwareSpec, hookimpl
MOE_CONSOLE_API = "1.0"

def f(value, unit):
    return Figure(value, unit, source="test", tag="assumption")

@hookimpl
def register_hardware(register):
    register(HardwareSpec(
        name="chipx", display_name="Chip X", vendor="Test", peak_tflops={"bf16": f(100, "TFLOPS")},
        hbm_gb=f(80, "GB"), hbm_tbps=f(3, "TB/s"), scale_up_gbps=f(400, "GB/s"),
        scale_out_gbps=f(50, "GB/s"), a2a_gbps=f(40, "GB/s"), price_usd_per_hour=f(2, "USD/h")))
"""


def _load(workshop, source):
    """A broken plugin next to a good one; returns (host, broken record)."""
    workshop.add("broken", source)
    workshop.add_good("good")
    host = workshop.host()
    host.load_all()
    assert host.plugin("good").status == "loaded"
    assert [e.name for e in host.backends() if e.plugin == "good"] == ["good"]
    return host, host.plugin("broken")


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (BROKEN_IMPORT, "import failed: ModuleNotFoundError: No module named 'no_such_module_for_moe_console_tests'"),
        (BROKEN_SYNTAX, r"import failed: SyntaxError: expected ':' (mcplug_broken_"),
        (HOOK_RAISES, "RuntimeError: registry on fire"),
        (UNKNOWN_HOOK, "implements unknown hook 'register_backend'"),
        (NOT_A_BACKEND, "registered <class 'dict'>, which is not a console.api.Backend subclass"),
        (BAD_OPTION_DEFAULT, "backend 'badopt': invalid default: option 'level' = 0: must be an integer from 1 to 3"),
    ],
    ids=["import-error", "syntax-error", "hook-raises", "unknown-hook", "not-a-backend", "bad-option"],
)
def test_broken_plugin_is_failed_and_the_others_work(workshop, source, error):
    host, record = _load(workshop, source)
    assert record.status == "failed"
    assert record.error.startswith(error)
    assert "\n" not in record.error
    assert record.backends == ()
    assert host.create("good").info.name == "good"


def test_syntax_error_names_file_and_line(workshop):
    _, record = _load(workshop, BROKEN_SYNTAX)
    assert record.error.endswith(".py, line 3)")


def test_failed_hook_leaves_nothing_registered(workshop):
    host, record = _load(workshop, HOOK_RAISES)
    assert record.hooks == ("register_backends",)
    assert not host._pm.has_plugin("broken")


@pytest.mark.parametrize("declared", ["2.0", "1.9", "one"])
def test_incompatible_api_version_is_refused(workshop, declared):
    host, record = _load(workshop, API.format(declaration=f"MOE_CONSOLE_API = {declared!r}"))
    assert record.status == "incompatible"
    assert record.api_version == declared
    assert record.error.startswith(f"built for plugin API {declared!r}; this console supports 1.0 to 1.0")
    with pytest.raises(PluginError, match="unknown backend 'versioned'.*broken \\(incompatible\\)"):
        host.create("versioned")


def test_undeclared_api_version_is_loaded_and_shown_as_undeclared(workshop):
    host, record = _load(workshop, API.format(declaration=""))
    assert (record.status, record.api_version, record.api_declared, record.api_source) == (
        "loaded", None, False, None)
    assert record.backends == ("versioned",)


def test_duplicate_backend_name_refuses_the_second_plugin(workshop):
    workshop.add_good("first", backend="twin")
    workshop.add_good("second", backend="twin")
    host = workshop.host()
    backends = host.backends()
    assert [(e.name, e.plugin) for e in backends] == [("twin", "first")]
    second = host.plugin("second")
    assert second.status == "failed"
    assert second.error == "backend name 'twin' refused: already provided by plugin 'first'"
    assert host.plugin_of(host.create("twin")).name == "first"


def test_create_rejects_unknown_names_and_bad_options(workshop):
    workshop.add_good("good")
    host = workshop.host()
    with pytest.raises(PluginError, match="unknown backend 'nope'; known: good"):
        host.create("nope")
    with pytest.raises(OptionError, match="option 'words' = 0: must be an integer >= 1"):
        host.create("good", words=0)
    with pytest.raises(OptionError, match="unknown option"):
        host.create("good", colour="red")


def test_constructor_that_raises_marks_the_plugin_failed(workshop):
    workshop.add("fragile", CONSTRUCTOR_RAISES)
    host = workshop.host()
    with pytest.raises(PluginError, match="backend 'fragile' could not start: KeyError: 'config'"):
        host.create("fragile")
    assert host.plugin("fragile").status == "failed"


def _modeled_stub(monkeypatch, backend_class_for):
    """Stands in for console.modeled (written concurrently by the perf engineer)."""
    module = types.ModuleType("console.modeled")
    module.backend_class_for = backend_class_for
    monkeypatch.setitem(sys.modules, "console.modeled", module)


def test_hardware_spec_becomes_a_modeled_backend(workshop, monkeypatch):
    seen = []

    def backend_class_for(spec):
        seen.append(spec.name)

        class Modeled(Backend):
            info = BackendInfo(name=f"modeled-{spec.name}", display_name=spec.display_name, kind="modeled")

            async def stream(self, request):
                yield None

        return Modeled

    _modeled_stub(monkeypatch, backend_class_for)
    workshop.add("hw", HARDWARE)
    host = workshop.host()
    host.load_all()
    record = host.plugin("hw")
    assert (record.status, record.hooks, record.hardware) == ("loaded", ("register_hardware",), ("chipx",))
    assert record.backends == ("modeled-chipx",) and seen == ["chipx"]
    assert host.entry("modeled-chipx").info.kind == "modeled"


def test_hardware_plugin_fails_cleanly_without_console_modeled(workshop, monkeypatch):
    monkeypatch.setitem(sys.modules, "console.modeled", None)  # import raises ImportError
    host, record = _load(workshop, HARDWARE)
    assert record.status == "failed"
    assert record.error.startswith("modeled backend for hardware 'chipx' unavailable: ModuleNotFoundError")


def test_hardware_plugin_fails_cleanly_when_modeled_raises(workshop, monkeypatch):
    def backend_class_for(spec):
        raise ValueError(f"no calibration for {spec.name}")

    _modeled_stub(monkeypatch, backend_class_for)
    host, record = _load(workshop, HARDWARE)
    assert record.error == "modeled backend for hardware 'chipx' unavailable: ValueError: no calibration for chipx"

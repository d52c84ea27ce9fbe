"""The moe-console plugin API: everything a backend or hardware plugin imports.

This package is declarations only. It imports the standard library and pluggy,
never Textual, Rich, the engine or any other part of the host, so a plugin
author can depend on it without pulling in the console (a test checks this in
a fresh interpreter).

A backend plugin is a package with an entry point in the ``moe_console`` group
whose module implements ``register_backends`` (and/or ``register_hardware``)::

    from console.api import Backend, BackendInfo, hookimpl

    class EchoBackend(Backend):
        info = BackendInfo(name="echo", display_name="Echo", kind="remote")
        async def stream(self, request):
            ...

    @hookimpl
    def register_backends(register):
        register(EchoBackend)
"""

from console.api.backend import BACKEND_KINDS, Backend, BackendInfo, Capabilities
from console.api.errors import (
    BackendError,
    IncompatiblePluginError,
    OptionError,
    PluginError,
)
from console.api.events import (
    Cost,
    Event,
    Failed,
    Finished,
    RoutingStats,
    Started,
    TextDelta,
    Timing,
    Usage,
)
from console.api.hardware import CALIBRATIONS, Figure, HardwareSpec, spec_problems
from console.api.hookspecs import PROJECT_NAME, PluginDeprecationWarning, deprecated_hookspec, hookimpl, hookspec
from console.api.options import Option, check_declarations, declaration_problems, resolve_options
from console.api.request import SAMPLING_RULES, Message, Request, Sampling, SamplingError, check_sampling_field
from console.api.timing import TokenTimer
from console.api.version import API_GROUP, API_VERSION, is_compatible, metadata_reference

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "BACKEND_KINDS",
    "CALIBRATIONS",
    "SAMPLING_RULES",
    "PROJECT_NAME",
    "Backend",
    "BackendError",
    "BackendInfo",
    "Capabilities",
    "Cost",
    "Event",
    "Failed",
    "Figure",
    "Finished",
    "HardwareSpec",
    "spec_problems",
    "IncompatiblePluginError",
    "Message",
    "Option",
    "OptionError",
    "PluginDeprecationWarning",
    "PluginError",
    "Request",
    "RoutingStats",
    "Sampling",
    "SamplingError",
    "Started",
    "TextDelta",
    "Timing",
    "TokenTimer",
    "Usage",
    "check_declarations",
    "check_sampling_field",
    "declaration_problems",
    "deprecated_hookspec",
    "hookimpl",
    "hookspec",
    "is_compatible",
    "metadata_reference",
    "resolve_options",
]

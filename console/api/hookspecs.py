"""Hook specifications of the ``moe_console`` pluggy project.

A plugin module marks its implementations with :data:`hookimpl`; the host
registers the module and calls each hook once, when the plugin is first used:
``configure`` first (when the plugin implements it), then ``register_backends``
and ``register_hardware``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

import pluggy

if TYPE_CHECKING:
    from console.api.backend import Backend
    from console.api.hardware import HardwareSpec

#: pluggy project name and entry-point group.
PROJECT_NAME = "moe_console"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def configure(config: Mapping[str, Any]) -> list[str] | None:
    """Receive this plugin's own settings, before its ``register_*`` hooks run.

    ``config`` is the top-level table of ``settings.toml`` named after the
    plugin's entry point (for the plugin ``remote``, every ``[remote.NAME]``
    table as ``{"NAME": {...}}``): a read-only view, empty when the file has no
    such table. It is how one plugin offers several configured backends (one
    class per table, registered next). Return readable problem lines for
    entries you ignored (shown with the plugin, which stays loaded), or None.
    Raising marks the whole plugin failed. Keep it cheap: no connections.
    """


@hookspec
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register backend classes.

    Call ``register(BackendClass)`` once per backend. The class must subclass
    :class:`console.api.Backend` and set ``info`` (a unique ``info.name``).
    Registering must be cheap: do not load models or open connections here;
    the host instantiates the class only when a user picks the backend.
    An exception raised here marks the whole plugin failed, with its message.
    """


@hookspec
def register_hardware(register: Callable[[HardwareSpec], None]) -> None:
    """Register accelerator descriptions.

    Call ``register(spec)`` with a :class:`console.api.HardwareSpec`. For each
    spec the host builds a *modeled* backend: text from the local engine,
    timings and cost from the performance model for the spec's hardware.
    Every figure of the spec carries its source and a tag (spec, announced,
    derived), which the console shows beside the number.
    """


class PluginDeprecationWarning(DeprecationWarning):
    """A plugin implements a hook that a later API version removes."""


def deprecated_hookspec(since: str, removed_in: str, instead: str):
    """The marker for a hook on its way out: ``@deprecated_hookspec("1.1", "2.0", "register_x")``.

    A plugin that implements it still works, but registering it raises a
    :class:`PluginDeprecationWarning` (pluggy's ``warn_on_impl``) naming the
    hook, the version that deprecated it, the one that removes it and what to
    use instead; the host records the warning on the plugin and
    ``moe-console plugins --load`` shows it. Keep the spec for at least one
    minor version before removing it in the next major version.
    """
    def mark(function):
        warning = PluginDeprecationWarning(
            f"hook {function.__name__!r} is deprecated since plugin API {since} and is removed in "
            f"{removed_in}; implement {instead!r} instead")
        return hookspec(warn_on_impl=warning)(function)

    return mark

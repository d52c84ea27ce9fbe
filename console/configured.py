"""The plugin host as every entry point needs it: discovered with the user's settings tables.

``PluginHost.discover()`` alone does not know ``settings.toml``, so plugins configured there
(``[remote.NAME]`` endpoints, for one) would have no backends. Every command that lists or
uses backends calls :func:`discover_configured` instead, which reads the settings once and
hands their plugin tables to the host (the TUI passes the same tables itself).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from console.plugins import PluginHost


def discover_configured(settings: Any | None = None, *, warn: Callable[[str], None] | None = None,
                        allow: Iterable[str] | None = None, deny: Iterable[str] | None = None) -> PluginHost:
    """``PluginHost.discover(config=settings.plugin_tables)``. Without ``settings`` they are
    read from ``settings.toml``; each problem found reading them goes to ``warn`` (one line)."""
    if settings is None:
        from console.settings import load_settings

        settings, problems = load_settings()
        for line in problems if warn is not None else ():
            warn(line)
    return PluginHost.discover(allow, deny, config=getattr(settings, "plugin_tables", None))

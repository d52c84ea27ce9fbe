"""Plugin API versions as the host sees them: declared in metadata, or not at all.

A plugin's distribution may declare the plugin API it was built for with an
entry point of the plugin's name in the group ``moe_console.api`` (see
:mod:`console.api.version`); :func:`read_declared_api` reads it at discovery,
without importing anything, and :func:`api_ok` marks an incompatible plugin
``incompatible`` so that it is never imported.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from console.api import API_GROUP, API_VERSION, is_compatible
from console.api.version import version_from_reference

if TYPE_CHECKING:
    from console.plugins import PluginRecord


def read_declared_api(record: PluginRecord, dist: metadata.Distribution | None) -> None:
    """The API version the distribution's metadata declares for this plugin, if any."""
    if dist is None:
        return
    for ep in dist.entry_points.select(group=API_GROUP, name=record.name):
        version = version_from_reference(ep.value)
        if version is None:
            record.warnings += (f"{API_GROUP} entry {ep.value!r} is not of the form "
                                f"'console.api.version:v1_0'; ignored",)
        else:
            record.api_version, record.api_declared, record.api_source = version, True, "metadata"


def api_ok(record: PluginRecord) -> bool:
    """True when the plugin's declared API (if any) runs on this host; else marks it incompatible."""
    if record.api_version is None or is_compatible(record.api_version, API_VERSION):
        return True
    major = API_VERSION.partition(".")[0]
    record.status = "incompatible"
    record.error = (
        f"built for plugin API {record.api_version!r}; this console supports "
        f"{major}.0 to {API_VERSION}: install a release of {record.distribution} "
        f"made for API {major}.x"
    )
    return False

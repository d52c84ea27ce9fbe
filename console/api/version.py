"""Version of the plugin contract, and how a plugin declares the one it needs.

``API_VERSION`` is ``"MAJOR.MINOR"``. The host accepts a plugin built for the
same major version and a minor version that is not newer; anything else is
refused with a readable message.

A plugin declares its version in two places:

* in its **distribution metadata**, readable without importing it: an entry
  point in the group :data:`API_GROUP` (``moe_console.api``) with the plugin's
  entry-point name, whose value names the version constant of this module::

      [project.entry-points."moe_console.api"]
      echo = "console.api.version:v1_0"     # built for plugin API 1.0

  (:func:`metadata_reference` writes that value). The host reads it while
  listing plugins and refuses an incompatible plugin **before importing it**;
* in its module, ``MOE_CONSOLE_API = "1.0"`` (checked after import, for
  plugins installed without the metadata entry).

A plugin that declares neither is listed as *undeclared*; it is loaded as if
built for the host's major version, and ``moe-console plugins`` says so.
"""

from __future__ import annotations

import re

API_VERSION = "1.0"
#: Entry-point group holding each plugin's declared API version.
API_GROUP = "moe_console.api"

#: Version constants named by ``moe_console.api`` entry points (one per released API version).
v1_0 = "1.0"

_REFERENCE = re.compile(r"^\s*console\.api\.version\s*:\s*v(\d+)_(\d+)\s*$")


def _parse(version: str) -> tuple[int, int]:
    major, _, minor = str(version).partition(".")
    return int(major), int(minor or 0)


def is_compatible(plugin_version: str, host_version: str = API_VERSION) -> bool:
    """True when a plugin built for ``plugin_version`` can run on ``host_version``."""
    try:
        p_major, p_minor = _parse(plugin_version)
        h_major, h_minor = _parse(host_version)
    except ValueError:
        return False
    return p_major == h_major and p_minor <= h_minor


def metadata_reference(version: str = API_VERSION) -> str:
    """The ``moe_console.api`` entry-point value declaring ``version`` (``"console.api.version:v1_0"``)."""
    major, minor = _parse(version)
    return f"console.api.version:v{major}_{minor}"


def version_from_reference(value: str) -> str | None:
    """The API version a ``moe_console.api`` entry-point value declares, read from
    the text alone (nothing is imported); ``None`` when it is not of that form."""
    match = _REFERENCE.match(value or "")
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None

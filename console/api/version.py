"""Version of the plugin contract.

``API_VERSION`` is ``"MAJOR.MINOR"``. A plugin states the version it was built
against in a module attribute ``MOE_CONSOLE_API = "1.0"``. The host accepts a
plugin whose major version equals its own and whose minor version is not newer;
anything else is refused with a readable message, never imported half-way.
"""

API_VERSION = "1.0"


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

"""TOML helpers for :mod:`console.settings`: parse with positions and locate keys, so that
every problem names its file, line and column.

Reading uses ``tomllib`` (``tomli`` on Python < 3.11); writing is tomlkit's
(:func:`console.settings.update_table`), which keeps the user's comments.
"""

from __future__ import annotations

import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_END = re.compile(r"\s*\(at end of document\)\s*$")


def parse_toml(text: str) -> tuple[dict[str, Any], tomllib.TOMLDecodeError | None]:
    """``(document, None)`` or ``({}, error)``; never raises for bad TOML."""
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as exc:
        return {}, exc


def describe_decode_error(error: tomllib.TOMLDecodeError) -> str:
    """``"LINE:COL: message"`` (or ``" message"`` when the position is unknown)."""
    message = str(error)
    line = getattr(error, "lineno", None)
    col = getattr(error, "colno", None)
    match = _POS.search(message)
    if match:
        message = message[: match.start()]
        line, col = line or int(match.group(1)), col or int(match.group(2))
    elif _END.search(message):
        message = _END.sub("", message) + " (at end of file)"
    if line is not None and col is not None:
        return f"{line}:{col}: {message}"
    return f" {message}"


def _header(line: str) -> tuple[str, ...] | None:
    stripped = line.strip()
    if not stripped.startswith("["):
        return None
    inner = stripped.strip("[]").split("#")[0].strip().rstrip("]").strip()
    parts = [p.strip().strip('"').strip("'") for p in inner.split(".")]
    return tuple(parts)


def locate(text: str, table: tuple[str, ...], key: str | None) -> tuple[int, int] | None:
    """1-based ``(line, column)`` of ``key`` inside ``[table]`` (best effort).

    ``key`` None locates the table header. Returns None when not found
    (dotted keys, inline tables).
    """
    current: tuple[str, ...] = ()
    key_re = None
    if key is not None:
        key_re = re.compile(r"^(\s*)(" + re.escape(key) + r"|\"" + re.escape(key) + r"\"|'"
                            + re.escape(key) + r"')\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        header = _header(line)
        if header is not None:
            current = header
            if key is None and header == table:
                return number, len(line) - len(line.lstrip()) + 1
            if key is not None and table + (key,) == header:
                return number, len(line) - len(line.lstrip()) + 1
            continue
        if key_re is not None and current == table:
            match = key_re.match(line)
            if match:
                return number, len(match.group(1)) + 1
    return None

"""TOML helpers for :mod:`console.settings`: parse with positions, locate keys, write.

Reading uses ``tomllib`` (``tomli`` on Python < 3.11). Writing covers what the
settings hold (strings, numbers, booleans, arrays of those, nested tables).
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_END = re.compile(r"\s*\(at end of document\)\s*$")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


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


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def dumps(doc: dict[str, Any]) -> str:
    """Serialise a document of scalars, arrays and nested tables."""
    out: list[str] = []

    def emit(prefix: tuple[str, ...], table: dict[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            out.append("")
            out.append("[" + ".".join(_key(p) for p in prefix) + "]")
        for k, v in scalars.items():
            out.append(f"{_key(k)} = {_value(v)}")
        for k, v in tables.items():
            emit(prefix + (k,), v)

    emit((), doc)
    return "\n".join(out).lstrip("\n") + "\n"

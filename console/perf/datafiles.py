"""Reading the model's data files (``console/perf/data/*.toml``).

Every number the performance model uses comes from these files: model shapes,
reference chips, measured runs, all-to-all tables, prices, scenarios. A broken
or missing file raises :class:`PerfDataError` with one line naming the file.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"


class PerfDataError(ValueError):
    """A performance-model data file (or a user override file) is missing or invalid."""


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse one TOML file; errors become :class:`PerfDataError` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PerfDataError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PerfDataError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PerfDataError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                            f"{exc.start}); TOML files must be UTF-8") from None
    except OSError as exc:
        raise PerfDataError(f"{path}: {exc.strerror or exc}") from None


@functools.lru_cache(maxsize=None)
def _cached(name: str) -> dict[str, Any]:
    return read_toml(DATA_DIR / name)


def data(name: str) -> dict[str, Any]:
    """The shipped data file ``name`` (e.g. ``"chips.toml"``), parsed once."""
    return _cached(name)


def table(name: str, key: str) -> dict[str, Any]:
    """Entry ``key`` of the shipped file ``name``; unknown keys list the known ones."""
    content = data(name)
    if key not in content or not isinstance(content[key], dict):
        known = ", ".join(k for k, v in content.items() if isinstance(v, dict))
        raise PerfDataError(f"{name}: no entry {key!r}; known: {known}")
    return content[key]


def require(entry: dict[str, Any], key: str, where: str) -> Any:
    """``entry[key]``, or a :class:`PerfDataError` naming ``where``."""
    if key not in entry:
        raise PerfDataError(f"{where}: missing key {key!r}")
    return entry[key]

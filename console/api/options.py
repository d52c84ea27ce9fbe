"""Typed, declared backend options.

A backend declares ``options = (Option(...), ...)``. The host renders them as
CLI flags (``--opt name=value``), TOML keys (``[backends.<name>]``) and a TUI
form, and validates values with :func:`resolve_options` before constructing
the backend, so a bad value is a readable :class:`OptionError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from console.api.errors import OptionError

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


@dataclass(frozen=True)
class Option:
    """One option. ``type`` is ``"int" | "float" | "str" | "bool"``.

    ``choices`` restricts the value; ``minimum``/``maximum`` bound numbers.
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, value: Any) -> Any:
        """Convert ``value`` (possibly a string from a CLI flag) and validate it."""
        kind = _TYPES.get(self.type)
        if kind is None:
            raise OptionError(f"option {self.name!r} declares unknown type {self.type!r}")
        try:
            if kind is bool and isinstance(value, str):
                low = value.strip().lower()
                if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                parsed = low in {"1", "true", "yes", "on"}
            elif kind is bool:
                if not isinstance(value, bool):
                    raise ValueError(value)
                parsed = value
            elif kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            elif kind in (int, float) and isinstance(value, bool):
                raise ValueError(value)
            else:
                parsed = kind(value)
        except (TypeError, ValueError):
            raise OptionError(
                f"option {self.name!r} expects {self.type}, got {value!r}"
            ) from None
        if self.choices and parsed not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise OptionError(f"option {self.name!r} must be one of: {allowed} (got {parsed!r})")
        if self.minimum is not None and parsed < self.minimum:
            raise OptionError(f"option {self.name!r} must be >= {self.minimum} (got {parsed!r})")
        if self.maximum is not None and parsed > self.maximum:
            raise OptionError(f"option {self.name!r} must be <= {self.maximum} (got {parsed!r})")
        return parsed


def resolve_options(declared: tuple[Option, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``given``, every value parsed and validated.

    Unknown names raise :class:`OptionError` listing the known ones.
    """
    by_name = {o.name: o for o in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise OptionError(f"unknown option(s) {', '.join(unknown)}; known: {known}")
    values = {o.name: o.default for o in declared}
    for name, value in given.items():
        values[name] = by_name[name].parse(value)
    return values

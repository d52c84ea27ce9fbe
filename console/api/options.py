"""Typed, declared backend options: one declaration, every place they appear.

A backend declares ``options = (Option(...), ...)``. From that one declaration
the host renders the option as a command-line flag (``--opt name=value``,
:meth:`Option.cli_usage`), a settings key (``[backends.<name>]``,
:meth:`Option.toml_line`) and a field of the TUI's backend form
(:meth:`Option.form_field`), and it validates values with
:func:`resolve_options` before constructing the backend, so a bad value is a
readable :class:`OptionError` naming the option, the value and the rule.

Types (``Option.type``): ``int``, ``float``, ``str``, ``bool``, ``path`` (a file
or folder; ``~`` is expanded; empty means "not set") and ``secret``. A secret
option's value is the *name of an environment variable* that holds the secret
(an API key); the secret itself is never in settings, flags or messages: read
it with :meth:`Option.secret` (or ``Backend.secret(name)``).

:func:`check_declarations` is the one rule for declarations, used by the host
(which refuses a plugin that breaks it) and by the conformance kit.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from console.api.errors import OptionError

TYPES = ("int", "float", "str", "bool", "path", "secret")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
#: Option names (and backend names): lowercase keys usable in TOML and on a command line.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: What an environment variable name looks like (the value of a ``secret`` option).
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Option:
    """One option. ``type`` is one of :data:`TYPES`.

    ``choices`` restricts the value; ``minimum``/``maximum`` bound numbers
    (inclusive). ``help`` is one line shown beside the flag, key and field.
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    # ------------------------------------------------------------ values
    def parse(self, value: Any) -> Any:
        """Convert ``value`` (possibly a string from a CLI flag) and validate it.

        Raises :class:`OptionError` naming the option, the value (never for a
        secret) and the rule."""
        if self.type not in TYPES:
            raise OptionError(f"option {self.name!r} declares unknown type {self.type!r}; use one of {TYPES}")
        parsed = self._convert(value)
        if self.choices and parsed not in self.choices:
            raise OptionError(f"option {self.name!r} = {parsed!r}: {self.rule()}")
        low_bad = self.minimum is not None and parsed < self.minimum
        high_bad = self.maximum is not None and parsed > self.maximum
        if low_bad or high_bad:
            raise OptionError(f"option {self.name!r} = {parsed!r}: {self.rule()}")
        return parsed

    def _convert(self, value: Any) -> Any:
        kind = self.type
        wrong = OptionError(f"option {self.name!r} = {value!r}: {self.rule()}")
        if kind == "secret":
            if not isinstance(value, str) or not (value == "" or ENV_NAME.match(value)):
                # never repeat the value: it may be the secret pasted by mistake
                raise OptionError(f"option {self.name!r}: {self.rule()} (the value given is not shown)")
            return value
        if kind in ("str", "path"):
            if not isinstance(value, str):
                raise wrong
            return os.path.expanduser(value) if kind == "path" and value else value
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise wrong
        if isinstance(value, bool):
            raise wrong
        try:
            if kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                parsed: Any = int(value.strip()) if isinstance(value, str) else int(value)
            else:
                parsed = float(value)
        except (TypeError, ValueError, OverflowError):
            raise wrong from None
        if kind == "float" and not math.isfinite(parsed):
            raise wrong
        return parsed

    def rule(self) -> str:
        """What a valid value is, in words (``"an integer from 1 to 4096"``)."""
        nouns = {"int": "an integer", "float": "a number", "str": "text", "bool": "true or false",
                 "path": "a file or folder path", "secret": "the name of an environment variable holding the secret"}
        text = nouns.get(self.type, self.type)
        if self.choices:
            return "must be one of: " + ", ".join(map(str, self.choices))
        if self.minimum is not None and self.maximum is not None:
            text += f" from {_num(self.minimum)} to {_num(self.maximum)}"
        elif self.minimum is not None:
            text += f" >= {_num(self.minimum)}"
        elif self.maximum is not None:
            text += f" <= {_num(self.maximum)}"
        return "must be " + text

    def secret(self, value: str) -> str | None:
        """The secret held by the environment variable ``value`` names (``None`` if unset)."""
        if self.type != "secret":
            raise OptionError(f"option {self.name!r} is not a secret option")
        return os.environ.get(value) if value else None

    def shown(self, value: Any) -> str:
        """``value`` as it may be shown to a user: a secret shows only its variable and whether it is set."""
        if self.type == "secret":
            if not value:
                return "(none)"
            return f"${value} ({'set' if os.environ.get(value) else 'not set'})"
        return _literal(value)

    # ------------------------------------------------------------ renderings
    def metavar(self) -> str:
        return {"int": "INT", "float": "NUMBER", "str": "TEXT", "bool": "true|false",
                "path": "PATH", "secret": "ENV_VAR"}.get(self.type, "VALUE")

    def cli_usage(self) -> str:
        """``--opt name=VALUE``, its rule, default and help, on one line."""
        choices = "|".join(map(str, self.choices)) if self.choices else self.metavar()
        return f"--opt {self.name}={choices}  {self.help} ({self.rule()}; default {self.shown(self.default)})"

    def toml_line(self) -> str:
        """The settings key with its default and help: ``name = 1  # help (rule)``."""
        return f"{self.name} = {_literal(self.default)}  # {self.help} ({self.rule()})"

    def form_field(self) -> dict[str, Any]:
        """What a form needs to show this option: label, kind, default text, choices, rule, help."""
        return {"name": self.name, "label": self.name.replace("_", " "), "type": self.type,
                "default": "" if self.default is None else str(self.default), "choices": tuple(self.choices),
                "rule": self.rule(), "help": self.help, "secret": self.type == "secret"}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


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


def declaration_problems(options: Any) -> list[str]:
    """Everything wrong with a backend's ``options`` declaration, one line each
    (empty when it is fine): a tuple of :class:`Option` with unique lowercase
    names, a help text, a known type, a default that passes its own rules and
    survives the string round trip of a flag or TOML value, and bounds that
    are numbers on a number option."""
    if not isinstance(options, tuple):
        return [f"options must be a tuple of console.api.Option, got {type(options).__name__}"]
    problems: list[str] = []
    seen: set[str] = set()
    for opt in options:
        if not isinstance(opt, Option):
            problems.append(f"{opt!r} is not a console.api.Option")
            continue
        if opt.name in seen:
            problems.append(f"option {opt.name!r} declared twice")
        seen.add(opt.name)
        if not isinstance(opt.name, str) or not NAME_PATTERN.match(opt.name):
            problems.append(f"option name {opt.name!r} is not a plain lowercase key")
        if not isinstance(opt.help, str) or not opt.help.strip():
            problems.append(f"option {opt.name!r} needs a help text")
        if opt.type not in TYPES:
            problems.append(f"option {opt.name!r} declares unknown type {opt.type!r}; use one of {TYPES}")
            continue
        if (opt.minimum is not None or opt.maximum is not None) and opt.type not in ("int", "float"):
            problems.append(f"option {opt.name!r}: minimum/maximum need an int or float option")
            continue
        try:
            parsed = opt.parse(opt.default)
        except OptionError as exc:
            problems.append(f"invalid default: {exc}")
            continue
        expected = os.path.expanduser(opt.default) if opt.type == "path" else opt.default
        if parsed != expected or isinstance(parsed, bool) != isinstance(opt.default, bool):
            problems.append(f"default of {opt.name!r} is not of type {opt.type}")
        elif opt.type in ("int", "float", "bool") and opt.parse(str(opt.default)) != opt.default:
            problems.append(f"default of {opt.name!r} does not survive a CLI/TOML string round trip")
    return problems


def check_declarations(backend: str, options: Any) -> None:
    """Raise :class:`OptionError` with the first of :func:`declaration_problems`."""
    problems = declaration_problems(options)
    if problems:
        raise OptionError(f"backend {backend!r}: {problems[0]}")


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` (``--opt`` flags) -> ``{"a": "1", "b": "x"}``; a
    malformed item raises :class:`OptionError`."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise OptionError(f"--opt {item!r}: write name=value (or --opt help to list the options)")
        out[name.strip()] = value
    return out

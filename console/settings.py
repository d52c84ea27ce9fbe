"""User settings: a TOML file in the user config directory, and the console's paths.

Layout of ``settings.toml`` (every key optional)::

    default_backend = "local"
    theme = "textual-dark"
    system_prompt = ""

    [sampling]            # console.api.Sampling fields
    max_tokens = 256
    temperature = 0.7

    [keymap]              # binding id -> key(s), Textual key syntax
    newline = "ctrl+j"

    [backends.h100]       # options of one backend, validated by its declared Options
    concurrency = 64
    price_usd_per_chip_hour = 2.49   # prices are ordinary backend options

    [remote.h100-vllm]    # any other top-level table belongs to the plugin of that
    url = "http://10.0.0.5:8000/v1"   # name, handed to its ``configure`` hook

Writing: :func:`update_table` changes one table in place (tomlkit keeps the
user's comments, order and other content); :func:`save_settings` rewrites the
whole file from a :class:`Settings`.

Contract: :func:`load_settings` never raises for a bad file. It returns the
defaults (plus whatever part of the file was usable) and a list of one-line
problems such as ``"/home/u/.config/moe-console/settings.toml:3:7: Expected
'=' after a key"``. Unknown keys and wrong types are problems, not errors.
Backend options are checked when the backend is created
(:func:`validate_backend_options`), because only then are its declared options
known.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from console.api import Option, OptionError, Sampling
from console.settings_toml import describe_decode_error, dumps, locate, parse_toml

#: Environment variable that overrides both the config and the data directory.
HOME_ENV = "MOE_CONSOLE_HOME"
#: File name of the settings file inside :func:`config_dir`.
SETTINGS_FILE = "settings.toml"
APP_NAME = "moe-console"

_KEY_RE = re.compile(r"^[A-Za-z0-9_+\-]+(,[A-Za-z0-9_+\-]+)*$")


@dataclass
class Settings:
    """Everything the user can configure. Defaults are the console's defaults."""

    default_backend: str = "local"
    sampling: Sampling = field(default_factory=Sampling)
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The user's rebindings only (binding id -> key(s)); the TUI owns the
    #: bindings and their default keys and applies these with ``App.set_keymap``.
    keymap: dict[str, str] = field(default_factory=dict)
    theme: str = "textual-dark"
    system_prompt: str = ""
    #: Top-level tables that are not the console's own, by name: each belongs to
    #: the plugin of that name (``PluginHost.discover(config=...)``).
    plugin_tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options_for(self, backend: str) -> dict[str, Any]:
        """The ``[backends.<backend>]`` table (a copy; empty when absent)."""
        return dict(self.backend_options.get(backend, {}))


def config_dir() -> Path:
    """Where ``settings.toml`` lives: ``$MOE_CONSOLE_HOME`` or platformdirs' user config dir."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Where the conversation database lives: ``$MOE_CONSOLE_HOME`` or the user data dir."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    """``config_dir() / "settings.toml"``."""
    return config_dir() / SETTINGS_FILE


# ---------------------------------------------------------------- loading


def load_settings(
    path: str | Path | None = None, *, binding_ids: Iterable[str] | None = None
) -> tuple[Settings, list[str]]:
    """Read settings from ``path`` (default :func:`settings_path`).

    A missing file gives the defaults and no problems. Never raises for bad
    content: the second item lists readable problems prefixed ``file:line:col``
    (or ``file``); the affected values keep their defaults. ``binding_ids``
    (the TUI's rebindable ids) makes an unknown ``[keymap]`` id a problem too;
    without it every id with a well-formed key is kept.
    """
    path = Path(path) if path is not None else settings_path()
    settings = Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return settings, []
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return settings, [f"{path}: cannot read settings ({reason}); using defaults"]
    data, error = parse_toml(text)
    if error is not None:
        return settings, [f"{path}:{describe_decode_error(error)}; using defaults"]
    return _Reader(path, text, binding_ids).read(data)


class _Reader:
    """Turns a parsed TOML document into Settings, collecting problems."""

    def __init__(self, path: Path, text: str, binding_ids: Iterable[str] | None) -> None:
        self.path, self.text = path, text
        self.binding_ids = list(binding_ids) if binding_ids is not None else None
        self.problems: list[str] = []

    def problem(self, table: tuple[str, ...], key: str | None, message: str) -> None:
        where = locate(self.text, table, key)
        prefix = f"{self.path}:{where[0]}:{where[1]}" if where else f"{self.path}"
        self.problems.append(f"{prefix}: {message}")

    def read(self, data: dict[str, Any]) -> tuple[Settings, list[str]]:
        s = Settings()
        for key, value in data.items():
            if key in ("default_backend", "theme", "system_prompt"):
                if isinstance(value, str):
                    setattr(s, key, value)
                else:
                    self.problem((), key, f"{key} must be a string, got {_type(value)}; ignored")
            elif key == "sampling":
                s.sampling = self.sampling(value)
            elif key == "keymap":
                s.keymap = self.keymap(value)
            elif key == "backends":
                s.backend_options = self.backends(value)
            elif isinstance(value, dict):
                s.plugin_tables[key] = value
            else:
                known = "default_backend, theme, system_prompt, [sampling], [keymap], [backends.<name>]"
                self.problem((), key, f"unknown setting {key!r} (known: {known}); ignored")
        return s, self.problems

    def sampling(self, table: Any) -> Sampling:
        default = Sampling()
        if not isinstance(table, dict):
            self.problem((), "sampling", "sampling must be a table; ignored")
            return default
        values: dict[str, Any] = {}
        fields = {f.name for f in dataclasses.fields(Sampling)}
        for key, value in table.items():
            if key not in fields:
                self.problem(("sampling",), key,
                             f"unknown sampling key {key!r} (known: {', '.join(sorted(fields))}); ignored")
                continue
            try:
                values[key] = check_sampling_value(key, value)
            except ValueError as exc:
                self.problem(("sampling",), key, f"sampling.{key} {exc}; using {getattr(default, key)!r}")
        return dataclasses.replace(default, **values)

    def keymap(self, table: Any) -> dict[str, str]:
        keymap: dict[str, str] = {}
        if not isinstance(table, dict):
            self.problem((), "keymap", "keymap must be a table; ignored")
            return keymap
        for key, value in table.items():
            if self.binding_ids is not None and key not in self.binding_ids:
                self.problem(("keymap",), key,
                             f"unknown binding id {key!r} (known: {', '.join(self.binding_ids)}); ignored")
            elif not isinstance(value, str) or not _KEY_RE.match(value.replace(" ", "")):
                self.problem(("keymap",), key,
                             f"keymap.{key} must be a key such as \"ctrl+j\", got {value!r}; ignored")
            else:
                keymap[key] = value.replace(" ", "")
        return keymap

    def backends(self, table: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(table, dict):
            self.problem((), "backends", "backends must hold tables like [backends.h100]; ignored")
            return {}
        out: dict[str, dict[str, Any]] = {}
        for name, options in table.items():
            if isinstance(options, dict):
                out[name] = dict(options)
            else:
                self.problem(("backends",), name,
                             f"backends.{name} must be a table of options ([backends.{name}]); ignored")
        return out


def check_sampling_value(key: str, value: Any) -> Any:
    """Validate one Sampling field; raises ``ValueError("must be ...")``."""
    def number(v: Any, integer: bool) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            raise ValueError(f"must be {'an integer' if integer else 'a number'}, got {_type(v)}")
        return v

    if key == "max_tokens":
        if number(value, True) < 1:
            raise ValueError(f"must be >= 1, got {value}")
        return int(value)
    if key == "top_k":
        if number(value, True) < 0:
            raise ValueError(f"must be >= 0, got {value}")
        return int(value)
    if key == "seed":
        if value is None:
            return None
        return int(number(value, True))
    if key == "stop":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"must be a list of strings, got {_type(value)}")
        return tuple(value)
    bounds = {"temperature": (0.0, None), "top_p": (0.0, 1.0), "min_p": (0.0, 1.0),
              "repetition_penalty": (0.0, None)}
    low, high = bounds[key]
    v = float(number(value, False))
    if v < low or (high is not None and v > high) or (key in ("top_p", "repetition_penalty") and v == 0):
        rng = f"in ({low}, {high}]" if key == "top_p" else (
            f"in [{low}, {high}]" if high is not None else (f"> {low}" if key == "repetition_penalty" else f">= {low}"))
        raise ValueError(f"must be {rng}, got {value}")
    return v


def _type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- saving


def save_settings(settings: Settings, path: str | Path | None = None) -> Path:
    """Write ``settings`` as TOML (only values that differ from the defaults)."""
    path = Path(path) if path is not None else settings_path()
    default = Settings()
    doc: dict[str, Any] = {}
    for key in ("default_backend", "theme", "system_prompt"):
        if getattr(settings, key) != getattr(default, key):
            doc[key] = getattr(settings, key)
    sampling = {f.name: getattr(settings.sampling, f.name) for f in dataclasses.fields(Sampling)
                if getattr(settings.sampling, f.name) != getattr(default.sampling, f.name)}
    if sampling:
        doc["sampling"] = sampling
    if settings.keymap:
        doc["keymap"] = dict(settings.keymap)
    backends = {name: dict(opts) for name, opts in settings.backend_options.items() if opts}
    if backends:
        doc["backends"] = backends
    doc.update({name: dict(table) for name, table in settings.plugin_tables.items() if name not in doc})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return path


def update_table(path: str | Path | None, keys: tuple[str, ...], values: Mapping[str, Any] | None) -> Path:
    """Set the table at ``keys`` (e.g. ``("remote", "h100")``) to ``values``, or
    remove it when ``values`` is None, keeping everything else in the file as the
    user wrote it (comments, order, other tables). Raises ``ValueError`` with a
    one-line reason when the file is not valid TOML (it is then left untouched)."""
    import tomlkit

    path = Path(path) if path is not None else settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    data, error = parse_toml(text)
    if error is not None:
        raise ValueError(f"{path}:{describe_decode_error(error)}; fix it first, nothing was written")
    doc = tomlkit.parse(text)
    parent: Any = doc
    for key in keys[:-1]:
        if key not in parent:
            if values is None:
                return path
            table = tomlkit.table(is_super_table=True)
            parent[key] = table
        parent = parent[key]
    if values is None:
        if keys[-1] in parent:
            del parent[keys[-1]]
    else:
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        parent[keys[-1]] = table
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- backend options


def validate_backend_options(
    backend: str, declared: tuple[Option, ...], given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Keep the options of ``given`` that ``declared`` accepts.

    Returns ``(valid, problems)``: each rejected key is one problem line naming
    ``[backends.<backend>]``, the key and why; the backend then uses its
    default for that option.
    """
    by_name = {o.name: o for o in declared}
    valid: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in given.items():
        option = by_name.get(key)
        if option is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(f"[backends.{backend}] unknown option {key!r} (known: {known}); ignored")
            continue
        try:
            valid[key] = option.parse(value)
        except OptionError as exc:
            problems.append(f"[backends.{backend}] {exc}; using default {option.default!r}")
    return valid, problems

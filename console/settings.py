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
user's comments, order and other content).

Contract: :func:`load_settings` never raises for a bad file. It returns the
defaults (plus whatever part of the file was usable) and a list of one-line
problems such as ``"/home/u/.config/moe-console/settings.toml:3:7: Expected
'=' after a key"``. Unknown keys, wrong types, out-of-range sampling values
(the one rule of ``console.api.SAMPLING_RULES``: ``temperature = nan``,
``seed = -1``...) and keys that do not exist (``send = "ctrl+foo"``) are
problems with file, line and column, and the default is used. Backend options
are checked against the backend's declared options once those are known
(:meth:`Settings.checked_options`, called by the chat session at start-up and
when switching), with the same file, line and column.
"""

from __future__ import annotations

import dataclasses
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from console.api import Option, OptionError, Sampling, SamplingError, check_sampling_field
from console.settings_toml import describe_decode_error, locate, parse_toml

#: Environment variable that overrides both the config and the data directory.
HOME_ENV = "MOE_CONSOLE_HOME"
#: File name of the settings file inside :func:`config_dir`.
SETTINGS_FILE = "settings.toml"
APP_NAME = "moe-console"

_KEY_RE = re.compile(r"^[A-Za-z0-9_+\-]+(,[A-Za-z0-9_+\-]+)*$")
_MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
#: Key names of Textual's key syntax besides single characters and Unicode names ("full_stop").
_NAMED_KEYS = {"escape", "enter", "return", "tab", "space", "backspace", "delete", "insert", "home", "end",
               "pageup", "pagedown", "up", "down", "left", "right", *(f"f{i}" for i in range(1, 25))}


def key_problem(keys: str) -> str | None:
    """Why ``keys`` (Textual syntax: ``"ctrl+j"``, several comma-separated) names
    no real key, or ``None`` when every key exists."""
    for key in keys.replace(" ", "").split(","):
        *mods, base = key.split("+")
        bad = [m for m in mods if m not in _MODIFIERS]
        if bad or not base:
            return f"{key!r} has an unknown modifier {bad[0]!r}" if bad else f"{key!r} names no key"
        if len(base) == 1 or base in _NAMED_KEYS:
            continue
        try:
            if len(unicodedata.lookup(base.replace("_", " "))) == 1:
                continue
        except KeyError:
            pass
        return f"{key!r}: there is no key called {base!r}"
    return None


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
    #: ``"file:line:col"`` of each ``(backend, option)`` key read from the file (for messages).
    option_places: dict[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)

    def options_for(self, backend: str) -> dict[str, Any]:
        """The ``[backends.<backend>]`` table (a copy; empty when absent)."""
        return dict(self.backend_options.get(backend, {}))

    def checked_options(self, backend: str, declared: tuple[Option, ...]) -> tuple[dict[str, Any], list[str]]:
        """The ``[backends.<backend>]`` options that ``declared`` accepts, and one
        problem line (file:line:col, table, key, value and rule) per refused key."""
        return validate_backend_options(backend, declared, self.options_for(backend),
                                        places={k: v for (b, k), v in self.option_places.items() if b == backend})


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

    def place(self, table: tuple[str, ...], key: str | None) -> str:
        where = locate(self.text, table, key)
        return f"{self.path}:{where[0]}:{where[1]}" if where else f"{self.path}"

    def problem(self, table: tuple[str, ...], key: str | None, message: str) -> None:
        self.problems.append(f"{self.place(table, key)}: {message}")

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
                s.option_places = {(name, k): self.place(("backends", name), k)
                                   for name, table in s.backend_options.items() for k in table}
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
                values[key] = check_sampling_field(key, value)
            except SamplingError as exc:
                self.problem(("sampling",), key, f"sampling.{key} = {_shown(value)}: {exc.rule}; "
                                                 f"using the default {getattr(default, key)!r}")
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
            elif (why := key_problem(value)) is not None:
                self.problem(("keymap",), key, f"keymap.{key} = {value!r}: {why}; the default key is kept")
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


def _shown(value: Any) -> str:
    """A TOML value as the user wrote it (``nan``, ``-1``, ``"lots"``)."""
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- saving


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
    backend: str, declared: tuple[Option, ...], given: Mapping[str, Any],
    places: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Keep the options of ``given`` that ``declared`` accepts.

    Returns ``(valid, problems)``: each rejected key is one problem line naming
    where it is (``places[key]``, ``file:line:col``, when known), the table
    ``[backends.<backend>]``, the key, the value (never a secret's) and the
    rule; the backend then uses its default for that option.
    """
    by_name = {o.name: o for o in declared}
    valid: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in given.items():
        where = f"{places[key]}: " if places and key in places else ""
        option = by_name.get(key)
        if option is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(f"{where}[backends.{backend}] unknown option {key!r} (known: {known}); ignored")
            continue
        try:
            valid[key] = option.parse(value)
        except OptionError:
            shown = "(not shown)" if option.type == "secret" else _shown(value)
            problems.append(f"{where}[backends.{backend}] {key} = {shown}: {option.rule()}; "
                            f"using the default {option.shown(option.default)}")
    return valid, problems

"""The plugin host: discovery from package metadata, lazy import, isolation.

Plugins are entry points of the group ``moe_console`` (``console.api.PROJECT_NAME``).
:meth:`PluginHost.discover` lists them from package metadata (entry point name,
distribution name and version) **without importing them**. A plugin is imported
the first time it is needed: :meth:`PluginHost.load_all`, or a backend lookup
(:meth:`PluginHost.backends`, :meth:`PluginHost.create`).

API versions: discovery reads each plugin's declared API version from its
distribution's metadata (an entry point of the same name in the group
``moe_console.api``, see :mod:`console.api.version`) and marks a plugin built
for an incompatible API ``incompatible`` **before importing it**. After import,
a ``MOE_CONSOLE_API`` module attribute is checked the same way. A plugin that
declares neither is loaded (as built for this host's major version) and listed
with ``api_version=None``: ``moe-console plugins`` shows it as undeclared.

Loading one plugin: import its entry point; check its API version; register it
with pluggy (a deprecated hook it implements raises pluggy's ``warn_on_impl``
warning, kept in ``PluginRecord.warnings``); call its hooks, and only its
hooks; validate what it registered. Each :class:`HardwareSpec` becomes a modeled
backend through ``console.modeled.backend_class_for`` (imported lazily).

A plugin is all or nothing: if any step fails (import error, syntax error,
incompatible API, a hook that raises, an invalid or duplicate backend) the
plugin gets status ``failed`` (or ``incompatible``) with a one-line ``error``,
none of its backends is offered, and every other plugin keeps working. The first
plugin loaded keeps a contested backend name, and the built-in plugins (those of the
``moe-console`` distribution) always load before any third-party one: a plugin cannot take
over ``local`` or ``h100`` by choosing a name that sorts first; it is refused and says so.
Exceptions raised inside a
backend's ``stream`` (other than :class:`BackendError`) become a ``Failed``
event and mark the plugin failed (:meth:`PluginHost.stream`, :mod:`console.plugin_guard`).

Environment: ``MOE_CONSOLE_PLUGINS`` is a comma-separated allowlist (unset: all
plugins; set but empty: none, the kill switch); ``MOE_CONSOLE_DISABLE_PLUGINS``
a comma-separated denylist. Both match a plugin's entry-point name or its
distribution name. Disabled plugins are listed with status ``disabled``.
"""

from __future__ import annotations

import inspect
import os
import re
import warnings
from dataclasses import dataclass, field, fields
from importlib import metadata
from types import MappingProxyType
from typing import Any, AsyncIterator, Iterable, Literal, Mapping

import pluggy

from console.api import (
    BACKEND_KINDS,
    PROJECT_NAME,
    Backend,
    BackendError,
    BackendInfo,
    Event,
    HardwareSpec,
    Option,
    OptionError,
    PluginError,
    Request,
    declaration_problems,
    spec_problems,
)
from console.api import hookspecs
from console.plugin_guard import describe_error, guarded_stream
from console.plugin_versions import api_ok, read_declared_api

Status = Literal["not loaded", "loaded", "failed", "disabled", "incompatible"]
ALLOW_ENV = "MOE_CONSOLE_PLUGINS"
DENY_ENV = "MOE_CONSOLE_DISABLE_PLUGINS"
#: The distribution whose plugins are built in; they win every name conflict.
BUILTIN_DISTRIBUTION = "moe-console"


@dataclass
class PluginRecord:
    """One plugin as the host sees it. ``hooks``, ``backends`` and
    ``api_version`` are known only once the plugin has been imported."""

    name: str
    version: str
    distribution: str
    value: str  # the entry point's target: "module" or "module:attribute"
    status: Status = "not loaded"
    error: str | None = None
    hooks: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    hardware: tuple[str, ...] = ()
    api_version: str | None = None
    api_declared: bool = False
    #: where the version was read: "metadata" (before import), "module" (MOE_CONSOLE_API) or None
    api_source: str | None = None
    #: Problems that did not fail the plugin: what its ``configure`` hook reported about its
    #: settings, deprecated hooks it implements, and misbehaviour seen at run time (a stream
    #: that blocked its event loop).
    warnings: tuple[str, ...] = ()
    entry_point: metadata.EntryPoint | None = field(default=None, repr=False, compare=False)

    @property
    def builtin(self) -> bool:
        """True for the plugins that ship with the console itself."""
        return _canonical(self.distribution) == BUILTIN_DISTRIBUTION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (what ``moe-console plugins --json`` prints)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "entry_point"}


@dataclass(frozen=True)
class BackendEntry:
    """A backend offered by a loaded plugin (``cls`` is not instantiated yet)."""

    name: str
    info: BackendInfo
    plugin: str
    cls: type[Backend]
    options: tuple[Option, ...]


def _names_from_env(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _named_in(record: PluginRecord, names: set[str]) -> bool:
    """True when ``names`` holds the plugin's name or its distribution's name."""
    wanted = {_canonical(n) for n in names}
    return _canonical(record.name) in wanted or _canonical(record.distribution) in wanted


class PluginHost:
    """Discovers, loads and isolates plugins; hands out backends. See the module doc."""

    def __init__(self, records: Iterable[PluginRecord], config: Mapping[str, Any] | None = None, *,
                 extra_hookspecs: Iterable[object] = ()) -> None:
        """``config``: settings.toml tables by plugin name, handed to each plugin's ``configure``
        hook. ``extra_hookspecs``: more hookspec modules (or classes) beside
        :mod:`console.api.hookspecs`, e.g. to test a hook's deprecation path."""
        self._config = {k: v for k, v in (config or {}).items() if isinstance(v, Mapping)}
        self._records: dict[str, PluginRecord] = {}
        for record in sorted(records, key=lambda r: not r.builtin):  # built-ins first, stable
            if record.name in self._records:
                first = self._records[record.name]
                record.status = "failed"
                record.error = (
                    f"plugin name {record.name!r} is already provided by "
                    f"distribution {first.distribution!r}"
                )
                self._records[f"{record.name} ({record.distribution})"] = record
            else:
                self._records[record.name] = record
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        for extra in extra_hookspecs:
            self._pm.add_hookspecs(extra)
        self._entries: dict[str, BackendEntry] = {}
        self._plugin_of_class: dict[type, str] = {}

    # ---------------------------------------------------------------- discovery
    @classmethod
    def discover(
        cls,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
        *,
        distributions: Iterable[metadata.Distribution] | None = None,
        config: Mapping[str, Any] | None = None,
        extra_hookspecs: Iterable[object] = (),
    ) -> PluginHost:
        """List plugins from package metadata without importing anything.

        ``allow``/``deny`` override the environment variables when given.
        ``distributions`` restricts discovery to these distributions (e.g.
        ``importlib.metadata.Distribution.at(path_to_dist_info)``); by default
        every distribution on ``sys.path`` is read. ``config`` maps a plugin's
        name to its settings table (``Settings.plugin_tables``), passed to its
        ``configure`` hook when it loads.
        """
        allow_set = set(allow) if allow is not None else _names_from_env(ALLOW_ENV)
        deny_set = set(deny) if deny is not None else (_names_from_env(DENY_ENV) or set())
        if distributions is None:
            eps = [(ep, ep.dist) for ep in metadata.entry_points(group=PROJECT_NAME)]
        else:
            eps = [(ep, d) for d in distributions for ep in d.entry_points.select(group=PROJECT_NAME)]
        records = []
        for ep, dist in sorted(eps, key=lambda pair: pair[0].name):
            dist_name = (dist.metadata["Name"] if dist is not None else None) or "?"
            record = PluginRecord(
                name=ep.name,
                version=(dist.version if dist is not None else None) or "?",
                distribution=dist_name,
                value=ep.value,
                entry_point=ep,
            )
            if allow_set is not None and not _named_in(record, allow_set):
                record.status, record.error = "disabled", f"not in {ALLOW_ENV}"
            elif _named_in(record, deny_set):
                record.status, record.error = "disabled", f"listed in {DENY_ENV}"
            read_declared_api(record, dist)
            if record.status == "not loaded":
                api_ok(record)  # an incompatible declaration is refused here, unimported
            records.append(record)
        return cls(records, config, extra_hookspecs=extra_hookspecs)

    def unclaimed_config(self) -> list[str]:
        """Names of settings tables handed to the host that no discovered plugin is called."""
        return sorted(set(self._config) - {r.name for r in self._records.values()})

    @property
    def plugins(self) -> list[PluginRecord]:
        """Every discovered plugin, in load-priority order (built-ins first, then by name)."""
        return list(self._records.values())

    def plugin(self, name: str) -> PluginRecord:
        try:
            return self._records[name]
        except KeyError:
            known = ", ".join(self._records) or "none"
            raise PluginError(f"unknown plugin {name!r}; known: {known}") from None

    # ------------------------------------------------------------------ loading
    def load_all(self) -> list[PluginRecord]:
        """Import every enabled plugin not yet loaded. Never raises for plugin faults."""
        for record in self.plugins:
            self._load(record)
        return self.plugins

    def _load(self, record: PluginRecord) -> None:
        if record.status != "not loaded" or record.entry_point is None:
            return
        if not api_ok(record):  # refused from its metadata: never imported
            return
        if not record.builtin:  # built-ins claim their names before any third party can
            for builtin in self.plugins:
                if builtin.builtin:
                    self._load(builtin)
        try:
            plugin = record.entry_point.load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import failure is the plugin's
            self._fail(record, f"import failed: {describe_error(exc)}")
            return
        if not self._check_api(record, plugin):
            return
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DeprecationWarning)
                self._pm.register(plugin, name=record.name)
            record.warnings += tuple(" ".join(str(w.message).split()) for w in caught)
            record.hooks = tuple(sorted(h.name for h in self._pm.get_hookcallers(plugin) or ()))
            self._check_hooks(plugin)
            backends, specs, refused = self._call_hooks(plugin, record)
            record.hardware = tuple(spec.name for spec in specs)
            record.error = "; ".join(refused) or None  # refused specs; the plugin's others still load
            backends += [self._modeled_class(spec) for spec in specs]
            entries = self._validate(record.name, backends)
        except Exception as exc:  # noqa: BLE001 - plugin code, isolated
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self._fail(record, describe_error(exc))
            return
        for entry in entries:
            self._entries[entry.name] = entry
            self._plugin_of_class[entry.cls] = record.name
        record.backends = tuple(entry.name for entry in entries)
        record.status = "loaded"

    def _check_api(self, record: PluginRecord, plugin: object) -> bool:
        declared = getattr(plugin, "MOE_CONSOLE_API", None)
        if declared is None:
            module = inspect.getmodule(plugin)
            declared = getattr(module, "MOE_CONSOLE_API", None) if module else None
        if declared is not None and record.api_source != "metadata":
            record.api_version, record.api_declared, record.api_source = str(declared), True, "module"
        elif declared is not None and str(declared) != record.api_version:
            record.warnings += (f"MOE_CONSOLE_API {str(declared)!r} differs from the metadata's "
                                f"{record.api_version!r}; the metadata's is used",)
        return api_ok(record)

    def _check_hooks(self, plugin: object) -> None:
        for caller in self._pm.get_hookcallers(plugin) or ():
            if not caller.has_spec() and not any(
                impl.optionalhook for impl in caller.get_hookimpls() if impl.plugin is plugin
            ):
                known = ", ".join(n for n in dir(self._pm.hook) if n.startswith("register_"))
                raise PluginError(f"implements unknown hook {caller.name!r}; known hooks: {known}")

    def _call_hooks(self, plugin: object, record: PluginRecord) -> tuple[list[Any], list[HardwareSpec], list[str]]:
        others = [p for p in self._pm.get_plugins() if p is not plugin]
        config = MappingProxyType(dict(self._config.get(record.name, {})))
        found = self._pm.subset_hook_caller("configure", others)(config=config)
        record.warnings += tuple(str(line) for lines in found if lines for line in lines)
        backends: list[Any] = []
        specs: list[HardwareSpec] = []
        refused: list[str] = []

        def add_spec(spec: Any) -> None:
            if not isinstance(spec, HardwareSpec):
                raise PluginError(f"register_hardware got {spec!r}, not a console.api.HardwareSpec")
            problems = spec_problems(spec)
            if problems:  # refuse this spec, keep the plugin's others
                refused.append(f"refused hardware {spec.name!r}: " + "; ".join(
                    p.split(": ", 1)[-1] for p in problems))
            else:
                specs.append(spec)

        self._pm.subset_hook_caller("register_backends", others)(register=backends.append)
        self._pm.subset_hook_caller("register_hardware", others)(register=add_spec)
        return backends, specs, refused

    @staticmethod
    def _modeled_class(spec: HardwareSpec) -> Any:
        try:
            from console.modeled import backend_class_for

            return backend_class_for(spec)
        except Exception as exc:  # noqa: BLE001 - a spec the perf model cannot take fails only its plugin
            raise PluginError(
                f"modeled backend for hardware {spec.name!r} unavailable: {describe_error(exc)}"
            ) from exc

    def _validate(self, plugin_name: str, classes: list[Any]) -> list[BackendEntry]:
        entries: list[BackendEntry] = []
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, Backend)):
                raise PluginError(f"registered {cls!r}, which is not a console.api.Backend subclass")
            info = getattr(cls, "info", None)
            if not isinstance(info, BackendInfo):
                raise PluginError(f"{cls.__name__} has no info = BackendInfo(...)")
            if inspect.isabstract(cls):
                raise PluginError(f"backend {info.name!r} does not implement stream()")
            if info.kind not in BACKEND_KINDS:
                raise PluginError(f"backend {info.name!r} has kind {info.kind!r}; use one of {BACKEND_KINDS}")
            problems = declaration_problems(getattr(cls, "options", None))
            if problems:
                raise PluginError(f"backend {info.name!r}: {problems[0]}")
            owner = self._entries.get(info.name)
            if owner is not None or any(e.name == info.name for e in entries):
                by = owner.plugin if owner is not None else plugin_name
                raise PluginError(f"backend name {info.name!r} refused: already provided by plugin {by!r}")
            entries.append(BackendEntry(info.name, info, plugin_name, cls, tuple(cls.options)))
        return entries

    def _fail(self, record: PluginRecord, error: str) -> None:
        record.status = "failed"
        record.error = error

    # ----------------------------------------------------------------- backends
    def backends(self) -> list[BackendEntry]:
        """Every backend of every enabled plugin (loads them all), modeled ones included."""
        self.load_all()
        return list(self._entries.values())

    def entry(self, name: str) -> BackendEntry:
        """The backend called ``name``, loading as few plugins as possible: the
        plugin of the same name first, then the others."""
        if name not in self._entries and name in self._records:
            self._load(self._records[name])
        if name not in self._entries:
            self.load_all()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none"
            broken = [f"{r.name} ({r.status})" for r in self.plugins if r.status in ("failed", "incompatible")]
            hint = f"; plugins with problems: {', '.join(broken)}" if broken else ""
            raise PluginError(f"unknown backend {name!r}; known: {known}{hint}")
        return self._entries[name]

    def create(self, name: str, **options: Any) -> Backend:
        """Construct backend ``name`` with validated options.

        Unknown name: :class:`PluginError` listing the known names. Bad option:
        :class:`OptionError`. A constructor that raises anything else marks the
        plugin failed and raises :class:`PluginError`.
        """
        entry = self.entry(name)
        try:
            return entry.cls(**options)
        except (OptionError, BackendError):
            raise
        except Exception as exc:  # noqa: BLE001 - plugin code, isolated
            message = f"backend {name!r} could not start: {describe_error(exc)}"
            self._fail(self._records[entry.plugin], message)
            raise PluginError(message) from exc

    def plugin_of(self, backend: Backend | type[Backend]) -> PluginRecord | None:
        """The record of the plugin that registered this backend (or its class)."""
        cls = backend if isinstance(backend, type) else type(backend)
        name = self._plugin_of_class.get(cls)
        return self._records.get(name) if name else None

    def report_stall(self, backend: Backend, warning: str) -> None:
        """Record that ``backend`` blocked its event loop (shown with the plugin's status)."""
        record = self.plugin_of(backend)
        if record is not None and warning not in record.warnings:
            record.warnings = (*record.warnings, warning)

    def stream(self, backend: Backend, request: Request) -> AsyncIterator[Event]:
        """``backend.stream(request)``, guarded (see :func:`console.plugin_guard.guarded_stream`);
        a backend that raises marks its plugin failed."""

        def crashed(error: str) -> None:
            record = self.plugin_of(backend)
            if record is not None:
                self._fail(record, f"backend {backend.info.name!r} raised in stream: {error}")

        return guarded_stream(backend, request, on_crash=crashed)

"""The chat session's backend instances: created with the settings' options, checked, reconfigured,
and closed (:class:`BackendInstances`, a part of :class:`console.conversation.ChatSession`).

A backend is created on first use with its ``[backends.<name>]`` options; refused values become
problem lines (file:line:col, table, key, value, rule) and their defaults are used. Each new
instance is described to the metrics (clock, context window, model) so that the panels are
labelled before its first reply.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from console.api import Backend, OptionError, resolve_options
from console.reply import one_line
from console.turns import SessionBusy


def _clock_of(backend: Backend) -> str:
    """What the figures of ``backend`` are before its first reply says so:
    measured for local and remote backends, modeled for modeled ones."""
    kind = getattr(getattr(backend, "info", None), "kind", "")
    return "modeled" if kind == "modeled" else "measured"


def _engine_model(backend: Backend) -> str:
    """What computes a modeled backend's text and routing: its ``model_path``
    checkpoint, or the built-in model."""
    if _clock_of(backend) != "modeled":
        return ""
    path = str((getattr(backend, "settings", None) or {}).get("model_path") or "")
    return f"the {path.rstrip('/').rsplit('/', 1)[-1]} checkpoint" if path else "the built-in model"


def _context_window(backend: Backend) -> int | None:
    """``backend.context_window`` (part of the Backend contract) when it is a
    positive int; ``None`` when unknown or when the plugin's property fails."""
    try:
        value = backend.context_window
    except Exception:  # noqa: BLE001 - plugin code must not break the session
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class BackendInstances:
    """Needs ``host``, ``settings``, ``metrics``, ``problems``, ``_backends`` and ``streams()``
    from the session it is part of."""

    def _create(self, name: str) -> Backend:
        """Instance of ``name`` with its ``[backends.<name>]`` options; bad options
        become problem lines and their defaults are used."""
        if name in self._backends:
            return self._backends[name]
        given = self.settings.options_for(name)
        entry = self.host.entry(name) if hasattr(self.host, "entry") else None
        if entry is not None:
            given, _ = self.settings.checked_options(name, entry.options)  # problems: option_problems()
        try:
            backend = self.host.create(name, **given)
        except OptionError as exc:
            self.problems.append(f"[backends.{name}] {one_line(exc)}; using the defaults")
            backend = self.host.create(name)
        self._backends[name] = backend
        self.metrics.describe(name, context_window=_context_window(backend), model=backend.info.model,
                              clock=_clock_of(backend), engine_model=_engine_model(backend))
        return backend

    def option_problems(self, name: str) -> list[str]:
        """One line per refused key of ``[backends.<name>]`` (file:line:col, table,
        key, value, rule), or a line saying no backend has that name."""
        if not self.settings.options_for(name):
            return []
        try:
            entry = self.host.entry(name)
        except Exception as exc:  # noqa: BLE001 - PluginError: an unknown or broken backend
            return [f"[backends.{name}] ignored: {one_line(exc)}"]
        return self.settings.checked_options(name, entry.options)[1]

    async def set_backend_options(self, name: str, values: dict[str, Any]) -> None:
        """``[backends.<name>]`` becomes ``values`` for this session (the file is not
        touched): checked by the backend's own options first (``OptionError``, nothing
        changes), then its instance is closed and the next turn gets a new one.
        ``SessionBusy`` while a reply streams on ``name``."""
        resolve_options(self.host.entry(name).options, values)
        if any(r.backend_name == name for r in self.streams()):
            raise SessionBusy(f"a reply is streaming on {name}; stop it first (Esc)")
        self.settings = dataclasses.replace(
            self.settings, backend_options={**self.settings.backend_options, name: dict(values)},
            option_places={k: v for k, v in self.settings.option_places.items() if k[0] != name})
        await self._close(self._backends.pop(name, None))

    async def use_host(self, host: Any) -> None:
        """Take a plugin host discovered again (a new remote endpoint, say): backends
        are created from it from now on. Idle instances are closed; a reply in flight
        ends on its own instance. The conversation and the current backend stay."""
        self.host = host
        running = {id(r.backend) for r in self.streams()}
        for name, backend in list(self._backends.items()):
            if id(backend) not in running:
                await self._close(self._backends.pop(name))

    async def _close(self, backend: Backend | None) -> None:
        try:
            if backend is not None:
                await backend.aclose()
        except Exception as exc:  # noqa: BLE001 - plugin code
            self.problems.append(f"backend {backend.info.name!r} failed to close: {one_line(exc)}")

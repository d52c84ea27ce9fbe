"""What the app does for the backend forms and for plugins seen misbehaving.

A mixin of :class:`console.tui.app.ConsoleApp` (it needs ``host``, ``session``,
``settings``, ``_discover``, ``_stalls_named``, ``chat``, ``notify``,
``open_screen``, ``push_screen``, ``screen_stack``):

* the options form of a backend (``open_backend_options``) and what Save does
  (``apply_backend_options``: this session, and settings.toml when asked);
* the remote endpoint form (``open_remote_form``) and what Save does
  (``add_remote``: ``[remote.NAME]`` written with ``update_table``, then the
  plugins discovered again, ``rediscover``, so the backend is offered at once);
* ``name_stalled_plugins``: a notification, once per plugin, when a plugin's
  stream blocked its event loop.
"""

from __future__ import annotations

import asyncio

from console.reply import one_line


class BackendForms:
    def name_stalled_plugins(self) -> None:
        """Timer callback: a notification, once per plugin, naming a plugin whose
        stream blocked its event loop (the reply's ``warning``; the plugins screen
        lists it with the plugin too)."""
        session = self.session
        replies = [getattr(session, "last_reply", None), *getattr(session, "streams", list)()]
        for reply in replies:
            warning = getattr(reply, "warning", None)
            if not warning:
                continue
            record = reply.host.plugin_of(reply.backend) if reply.backend is not None else None
            plugin = record.name if record is not None else reply.backend_name
            if plugin not in self._stalls_named:
                self._stalls_named.add(plugin)
                self.notify(f"Plugin {plugin!r}: {warning}. F5 lists it with the plugin.",
                            title="A plugin blocks its event loop", severity="warning", timeout=12)

    def open_backend_options(self, name: str | None = None) -> None:
        """The options form of backend ``name`` (the current one by default)."""
        from console.api import resolve_options
        from console.tui.screens.backend_options import BackendOptionsForm

        name = name or self.session.backend_name
        try:
            entry = self.host.entry(name)
        except Exception as exc:  # noqa: BLE001 - PluginError: one line
            self.notify(one_line(exc), title="No options form", severity="error")
            return
        valid, _problems = self.session.settings.checked_options(name, entry.options)
        current = resolve_options(entry.options, valid)

        async def save(values: dict, to_file: bool) -> str | None:
            return await self.apply_backend_options(name, values, to_file)

        self.push_screen(BackendOptionsForm(name, entry.options, current, save))

    async def apply_backend_options(self, name: str, values: dict, to_file: bool = False) -> str | None:
        """Use ``values`` for backend ``name`` in this session and, with ``to_file``,
        write the ones that differ from the defaults to ``[backends.<name>]`` of
        settings.toml (the rest of the file as the user wrote it). None once
        applied, else one line."""
        try:
            await self.session.set_backend_options(name, values)
        except Exception as exc:  # noqa: BLE001 - OptionError / SessionBusy / PluginError
            return one_line(exc)
        where = "this session"
        if to_file:
            from console.settings import update_table

            defaults = {o.name: o.default for o in self.host.entry(name).options}
            changed = {k: v for k, v in values.items() if v != defaults.get(k)}
            try:
                path = await asyncio.to_thread(update_table, None, ("backends", name), changed or None)
            except (ValueError, OSError) as exc:
                return f"applied to this session, but settings.toml was not written: {one_line(exc)}"
            where += f" and {path}"
        self.chat.refresh_status()
        self.notify(f"Options of {name} saved for {where}; its next reply uses them.", title="Backend", timeout=5)
        return None

    def open_remote_form(self) -> None:
        from console.tui.screens.remote_form import RemoteEndpointForm

        try:
            taken = {e.name: e.plugin for e in self.host.backends() if e.plugin != "remote"}
        except Exception:  # noqa: BLE001 - a broken host: the plugin's own checks still apply
            taken = {}
        self.open_screen(RemoteEndpointForm, lambda: RemoteEndpointForm(self.add_remote, taken))

    async def add_remote(self, name: str, table: dict) -> str | None:
        """Write ``[remote.<name>]`` to settings.toml (comments and the rest kept),
        then discover the plugins again with it, so backend ``name`` is offered at
        once; the conversation and the current backend stay. None once done, else
        one line."""
        from console.settings import update_table

        try:
            path = await asyncio.to_thread(update_table, None, ("remote", name), table)
        except (ValueError, OSError) as exc:
            return f"not saved: {one_line(exc)}"
        tables = dict(getattr(self.settings, "plugin_tables", {}) or {})
        tables["remote"] = {**dict(tables.get("remote") or {}), name: dict(table)}
        self.settings.plugin_tables = tables
        try:
            await self.rediscover()
        except Exception as exc:  # noqa: BLE001 - written, but the plugins could not be listed again
            return f"written to {path}, but the plugins could not be discovered again: {one_line(exc)}"
        self.notify(f"[remote.{name}] written to {path}; backend {name!r} is in the picker (ctrl+b).",
                    title="Remote endpoint", timeout=6)
        from console.tui.screens.backends import BackendPicker

        for screen in self.screen_stack:
            if isinstance(screen, BackendPicker):
                screen.reload(self.host, highlight=name)
        return None

    async def rediscover(self) -> None:
        """A new plugin host from the settings (plugins loaded off the event loop),
        handed to the session; what is streaming now ends on its old instance."""

        def load():
            host = self._discover(self.settings)
            host.backends()
            return host

        self.host = await asyncio.to_thread(load)
        await self.session.use_host(self.host)

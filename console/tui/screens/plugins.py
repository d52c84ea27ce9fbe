"""The plugins screen: every discovered plugin with its version, status, API
version and backends, and the full error of each failed or incompatible one.
The console keeps running whatever a plugin did; this is where you see why
a backend is missing.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from console.tui import keys
from console.tui.widgets import format as fmt

STATUS_STYLE = {
    "loaded": "green",
    "failed": "bold red",
    "incompatible": "bold red",
    "disabled": "dim",
    "not loaded": "dim",
}


class PluginsScreen(Screen):
    """Esc goes back to the chat."""

    BINDINGS = keys.bindings("plugins")

    def __init__(self, host) -> None:
        super().__init__(id="plugins-screen")
        self.host = host

    def compose(self) -> ComposeResult:
        with Vertical(id="plugins-box"):
            yield Static("[b]Plugins[/]  [dim]entry-point group moe_console · Esc returns to the chat[/]",
                         classes="dialog-title")
            yield DataTable(id="plugins-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="plugin-errors"):
                yield Static("", id="plugin-errors-text")
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.host.load_all()
        except Exception as exc:  # noqa: BLE001 - the host promises not to raise; be safe anyway
            self.app.notify(f"plugin host: {exc}", severity="error")
        table = self.query_one(DataTable)
        table.add_columns("plugin", "version", "distribution", "status", "api", "backends")
        errors = []
        for record in self.host.plugins:
            status = Text(record.status, style=STATUS_STYLE.get(record.status, ""))
            api = record.api_version or "?"
            if record.api_version and not getattr(record, "api_declared", True):
                api += " (assumed)"
            table.add_row(record.name, record.version, record.distribution, status, api,
                          ", ".join(record.backends) or fmt.DASH)
            if record.error:
                tone = "$error" if record.status in ("failed", "incompatible") else "$text-muted"
                errors.append(f"[b {tone}]{fmt.escape(record.name)}[/] ({record.status}): "
                              f"{fmt.escape(record.error)}")
            for warning in getattr(record, "warnings", ()):
                errors.append(f"[b $warning]{fmt.escape(record.name)}[/] (warning): {fmt.escape(warning)}")
        text = "\n".join(errors) if errors else "[dim]No plugin reported a problem.[/]"
        self.query_one("#plugin-errors-text", Static).update(text)
        self.query_one("#plugin-errors").border_title = "Errors"
        table.focus()

"""The backend picker: every backend the loaded plugins provide, with its kind
(local / modeled / remote), hardware, model and status. Enter switches to
the highlighted one (the screen is dismissed with its name); ``o`` opens the
highlighted backend's options form, ``a`` the form that adds a remote
endpoint (the new backend is listed, highlighted, once saved); Esc closes.

Failed plugins are named under the table (their backends are not offered);
the plugins screen (F5) shows their errors in full.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from console.tui import keys
from console.tui.widgets import format as fmt

KIND_STYLE = {"local": "green", "modeled": "yellow", "remote": "cyan"}


def backend_rows(host, current: str) -> list[tuple[str, str, str, str]]:
    """``(name, kind, hardware, status)`` per backend, sorted local first, then
    modeled, then remote, then by name. ``status`` is ``current`` or the
    status of the plugin that provides the backend."""
    order = {"local": 0, "modeled": 1, "remote": 2}
    rows = []
    for entry in host.backends():
        info = entry.info
        try:
            status = host.plugin(entry.plugin).status
        except Exception:  # noqa: BLE001 - a half-registered plugin still gets a row
            status = "?"
        if info.name == current:
            status = "current"
        rows.append((info.name, info.kind, info.hardware or info.display_name, status))
    rows.sort(key=lambda r: (order.get(r[1], 9), r[0]))
    return rows


def describe_backend(entry) -> str:
    """Markup for the detail line under the table: name, model, plugin, options."""
    info = entry.info
    lines = [f"[b]{fmt.escape(info.display_name)}[/] [dim]({fmt.escape(info.name)}, plugin "
             f"{fmt.escape(entry.plugin)})[/]"]
    if info.model:
        lines.append(f"model: {fmt.escape(info.model)}")
    if info.description:
        lines.append(f"[dim]{fmt.escape(info.description)}[/]")
    if entry.options:
        opts = ", ".join(f"{o.name}={o.default!r}" for o in entry.options)
        lines.append(f"[dim]options: {fmt.escape(opts)}[/]")
    return "\n".join(lines)


class BackendPicker(ModalScreen[str | None]):
    """Dismissed with the chosen backend's name, or ``None``."""

    BINDINGS = keys.bindings("picker")

    def __init__(self, host, current: str) -> None:
        super().__init__(id="backend-picker")
        self.host = host
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box", classes="dialog"):
            yield Static("[b]Switch backend[/]  [dim]Enter switches · o options · a adds a remote endpoint · "
                         "Esc closes · the chat is kept[/]", classes="dialog-title")
            yield DataTable(id="backend-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="picker-detail", classes="dialog-note")
            yield Static("", id="picker-note", classes="dialog-note")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("backend", "kind", "hardware", "status")
        self.reload(self.host)
        self.query_one(DataTable).focus()

    def reload(self, host, highlight: str | None = None) -> None:
        """List the backends of ``host`` (the app's, discovered again after a
        remote endpoint was added), the cursor on ``highlight`` or the current one."""
        self.host = host
        table = self.query_one(DataTable)
        table.clear()
        rows = backend_rows(self.host, self.current)
        for name, kind, hardware, status in rows:
            status_cell = Text(status, style="bold green" if status == "current" else "")
            table.add_row(name, Text(kind, style=KIND_STYLE.get(kind, "")), hardware, status_cell, key=name)
        names = [r[0] for r in rows]
        wanted = highlight if highlight in names else self.current
        if wanted in names:
            table.move_cursor(row=names.index(wanted))
        broken = [p for p in self.host.plugins if p.status in ("failed", "incompatible")]
        note = ""
        if broken:
            listed = ", ".join(f"{p.name} ({p.status})" for p in broken)
            note = f"[$error]Not offered: {fmt.escape(listed)}[/] [dim]F5 shows why[/]"
        if not rows:
            note = "[$error]No backend available.[/] " + note
        self.query_one("#picker-note", Static).update(note)

    def _highlighted(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_options(self) -> None:
        name = self._highlighted()
        if name is not None:
            self.app.open_backend_options(name)

    def action_add_remote(self) -> None:
        self.app.open_remote_form()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        try:
            entry = self.host.entry(str(event.row_key.value))
        except Exception:  # noqa: BLE001 - the detail line is best effort
            return
        self.query_one("#picker-detail", Static).update(describe_backend(entry))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(str(event.row_key.value))


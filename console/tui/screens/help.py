"""The help screen (F1, and "Help" in the palette): every binding of the
console, the hidden ones included, grouped by where it works, with the key
it has now (the settings' ``[keymap]`` applied), and what the panels mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui import keys
from console.tui.widgets.format import escape

PANELS_TEXT = (
    "[b]The panels[/]  Throughput (tokens per second now, average, peak), Latency (time to the first "
    "token, queue and prefill, gaps between tokens), Cost (this reply and the conversation, at the "
    "backend's price), MoE routing (which experts each layer chose), Context (how full the model's "
    "window is). Under each title, where its figures come from: [b]measured[/] on this machine, or "
    "[b]modeled[/] by a performance model (named with its calibration)."
)


def help_markup(keymap: dict[str, str] | None = None) -> str:
    """The help text: one section per part of the console."""
    keymap = keymap or {}
    lines = ["[b]moe-console keys[/]  [dim]Esc or F1 closes · keys can be rebound in settings.toml "
             "\\[keymap] by the id shown[/]", ""]
    for title, rows in keys.KEYS.values():
        lines.append(f"[b $accent]{escape(title)}[/]")
        for key, _action, _word, description, binding_id, _shown in rows:
            lines.append(f"  [b]{escape(keymap.get(binding_id, key)):<12}[/] {escape(description)} "
                         f"[dim]{escape(binding_id)}[/]")
        lines.append("")
    lines.append("[b $accent]Built in[/]")
    for key, description in keys.FIXED_KEYS:
        lines.append(f"  [b]{escape(key):<12}[/] {escape(description)}")
    lines += ["", PANELS_TEXT]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Scrolls at any size; Esc (or F1 again) closes it."""

    BINDINGS = keys.bindings("dialog") + [b for b in keys.bindings("app") if b.id == "help"]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static(help_markup(getattr(self.app, "_keymap", None)), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        self.dismiss(None)

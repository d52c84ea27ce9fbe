"""The sampling form: temperature, top-p, top-k, max tokens, seed and the
system prompt of the current conversation (it scrolls in a small terminal,
following the focus). Save validates every field and
says what is wrong in one line; nothing is applied until all are valid.
Dismissed with ``(Sampling, system_prompt)`` or ``None``.
"""

from __future__ import annotations

import dataclasses

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from console.api import Sampling
from console.tui import keys
from console.tui.widgets.format import escape

#: field -> (label, parser, check, message)
FIELDS = {
    "temperature": ("Temperature", float, lambda v: v >= 0, "must be >= 0 (0 = greedy)"),
    "top_p": ("Top-p", float, lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "top_k": ("Top-k", int, lambda v: v >= 0, "must be >= 0 (0 = off)"),
    "max_tokens": ("Max tokens", int, lambda v: v >= 1, "must be >= 1"),
    "seed": ("Seed", int, lambda v: v >= 0, "must be a non-negative integer or empty"),
}


def parse_sampling(base: Sampling, values: dict[str, str]) -> Sampling:
    """``base`` with the form's ``values`` applied; ``ValueError`` names the bad field."""
    changes = {}
    for name, raw in values.items():
        label, parse, check, message = FIELDS[name]
        raw = raw.strip()
        if name == "seed" and raw == "":
            changes[name] = None
            continue
        try:
            value = parse(raw)
        except ValueError:
            raise ValueError(f"{label}: {raw!r} is not a number ({message})") from None
        if not check(value):
            raise ValueError(f"{label}: {message}")
        changes[name] = value
    return dataclasses.replace(base, **changes)


class SamplingForm(ModalScreen[tuple[Sampling, str] | None]):
    BINDINGS = keys.bindings("sampling")

    def __init__(self, sampling: Sampling, system_prompt: str) -> None:
        super().__init__(id="sampling-form")
        self.sampling = sampling
        self.system_prompt = system_prompt

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="sampling-box", classes="dialog"):  # scrolls (and follows Tab) at 80x24
            yield Static("[b]Sampling & system prompt[/]  [dim]this conversation · Ctrl+S saves · Esc closes[/]",
                         classes="dialog-title")
            with Grid(id="sampling-grid"):
                for name, (label, *_rest) in FIELDS.items():
                    value = getattr(self.sampling, name)
                    yield Label(label)
                    yield Input("" if value is None else str(value), id=f"field-{name}", compact=True,
                                placeholder="empty = random" if name == "seed" else "")
            yield Label("System prompt")
            yield TextArea(self.system_prompt, id="field-system", soft_wrap=True)
            yield Static("", id="sampling-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def action_save(self) -> None:
        values = {name: self.query_one(f"#field-{name}", Input).value for name in FIELDS}
        try:
            sampling = parse_sampling(self.sampling, values)
        except ValueError as exc:
            self.query_one("#sampling-error", Static).update(f"[b $error]{escape(str(exc))}[/]")
            return
        self.dismiss((sampling, self.query_one("#field-system", TextArea).text.strip()))

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

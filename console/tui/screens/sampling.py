"""The sampling form: temperature, top-p, top-k, max tokens, seed and the
system prompt of the current conversation (it scrolls in a small terminal,
following the focus). Save validates every field and
says what is wrong in one line; nothing is applied until all are valid.
Dismissed with ``(Sampling, system_prompt)`` or ``None``.
"""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static, TextArea

from console.api import SAMPLING_RULES, Sampling, SamplingError
from console.tui import keys
from console.tui.screens.forms import FormScreen
from console.tui.widgets.format import escape

#: field -> label; each field's rule is console.api.SAMPLING_RULES[field] (one rule everywhere)
FIELDS = {
    "temperature": "Temperature",
    "top_p": "Top-p",
    "top_k": "Top-k",
    "max_tokens": "Max tokens",
    "seed": "Seed",
}


def parse_sampling(base: Sampling, values: dict[str, str]) -> Sampling:
    """``base`` with the form's ``values`` applied; ``ValueError`` names the bad field."""
    changes = {}
    for name, raw in values.items():
        try:
            changes[name] = SAMPLING_RULES[name].parse_text(name, raw)
        except SamplingError as exc:
            if isinstance(exc.value, str):
                raise ValueError(f"{FIELDS[name]}: {exc.value!r} is not a number ({exc.rule})") from None
            raise ValueError(f"{FIELDS[name]}: {exc.rule}, got {exc.value!r}") from None
    return dataclasses.replace(base, **changes)


class SamplingForm(FormScreen):
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
                for name, label in FIELDS.items():
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

    def on_mount(self) -> None:
        self.query_one(f"#field-{next(iter(FIELDS))}", Input).focus()  # typing goes into the form at once

    def action_save(self) -> None:
        values = {name: self.query_one(f"#field-{name}", Input).value for name in FIELDS}
        try:
            sampling = parse_sampling(self.sampling, values)
        except ValueError as exc:
            self.query_one("#sampling-error", Static).update(f"[b $error]{escape(str(exc))}[/]")
            return
        self.dismiss((sampling, self.query_one("#field-system", TextArea).text.strip()))

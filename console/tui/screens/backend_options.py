"""The options form of one backend (``o`` in the picker, or the palette).

Built from the backend's one declaration of its options (``console.api.Option``):
each field is ``Option.form_field()`` (label, rule, help), its value is checked
by the option's own ``parse`` (the same rule as ``--opt`` and
``[backends.NAME]``), and a ``secret`` option shows only the *name* of its
environment variable and whether it is set (``Option.shown``), never a secret.

**Save** (ctrl+s) hands the parsed values and the "also settings.toml" choice
to the ``save`` callback (``ConsoleApp.apply_backend_options``) and closes
once it succeeded; otherwise its one-line reason stays under the fields and
nothing typed is lost.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from console.api import Option, OptionError
from console.tui import keys
from console.tui.screens.forms import FormScreen
from console.tui.widgets.format import escape


def value_text(option: Option, value: Any) -> str:
    """``value`` as the field's text (what ``option.parse`` reads back)."""
    if value is None:
        return ""
    if option.type == "bool":
        return "true" if value else "false"
    return str(value)


def parse_fields(options: tuple[Option, ...], texts: Mapping[str, str]) -> dict[str, Any]:
    """Every option's value from its field's text, by the option's own rule; an
    empty number or bool field means its default. ``OptionError``: the first bad one."""
    values: dict[str, Any] = {}
    for option in options:
        text = texts.get(option.name, "")
        if option.type != "str":
            text = text.strip()
        if not text and option.type in ("int", "float", "bool"):
            values[option.name] = option.default
        else:
            values[option.name] = option.parse(text)
    return values


def field_note(option: Option, value: Any) -> str:
    """The line under a field: help and rule, and for a secret what it refers to now."""
    field = option.form_field()
    note = f"{field['help']} ({field['rule']}; default {option.shown(option.default)})"
    if field["secret"]:
        note += f" · now: {option.shown(value)}"
    return note


class BackendOptionsForm(FormScreen):
    """Dismissed with True once saved, ``None`` when closed."""

    BINDINGS = keys.bindings("options_form")

    def __init__(self, name: str, options: tuple[Option, ...], current: Mapping[str, Any],
                 save: Callable[[dict[str, Any], bool], Awaitable[str | None]]) -> None:
        """``current``: the values this session's instance uses; ``save(values,
        to_settings_file)`` returns None once applied, else a one-line reason."""
        super().__init__(id="options-form")
        self.backend_name, self.options, self.current, self.save = name, tuple(options), dict(current), save

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="options-box", classes="dialog"):
            yield Static(f"[b]Options of {escape(self.backend_name)}[/]  [dim]this session · ctrl+s saves · "
                         "Esc closes[/]", classes="dialog-title")
            if not self.options:
                yield Static(f"{escape(self.backend_name)} declares no options.", classes="dialog-note")
            for option in self.options:
                field = option.form_field()
                value = self.current.get(option.name, option.default)
                with Horizontal(classes="option-row"):
                    yield Label(field["label"], classes="option-label")
                    yield Input(value_text(option, value), id=f"option-{option.name}", compact=True,
                                placeholder="(empty)")
                yield Static(f"[dim]{escape(field_note(option, value))}[/]", classes="option-note")
            yield Checkbox(f"also write [backends.{self.backend_name}] in settings.toml", id="options-to-file",
                           compact=True)
            yield Static("", id="form-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        fields = list(self.query(Input))
        (fields[0] if fields else self.query_one("#cancel")).focus()

    def texts(self) -> dict[str, str]:
        return {o.name: self.query_one(f"#option-{o.name}", Input).value for o in self.options}

    async def action_save(self) -> None:
        try:
            values = parse_fields(self.options, self.texts())
        except OptionError as exc:
            self.say(str(exc), error=True)
            return
        error = await self.save(values, self.query_one("#options-to-file", Checkbox).value)
        if error:
            self.say(error, error=True)
        else:
            self.dismiss(True)


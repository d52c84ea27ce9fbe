"""Small modal dialogs: a line (or a few lines) of text, a yes/no question,
and a searchable list (conversation search, prompt history). Each is
dismissed with its answer, or ``None`` on Esc; each scrolls at 80x24."""

from __future__ import annotations

from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from console.tui import keys
from console.tui.screens.forms import FormScreen
from console.tui.widgets.format import escape


class TextDialog(FormScreen):
    """Asks for a text: one line (Enter saves) or several (ctrl+s saves)."""

    BINDINGS = keys.bindings("dialog") + keys.bindings("sampling")[1:]

    def __init__(self, title: str, text: str = "", *, multiline: bool = False, note: str = "") -> None:
        super().__init__(classes="small-dialog")
        self.title_text, self.text, self.multiline, self.note = title, text, multiline, note

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/]  [dim]{escape(self.note)}[/]", classes="dialog-title")
            if self.multiline:
                yield TextArea(self.text, id="dialog-text", soft_wrap=True)
            else:
                yield Input(self.text, id="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#dialog-text").focus()

    def action_save(self) -> None:
        field = self.query_one("#dialog-text")
        value = field.text if isinstance(field, TextArea) else field.value
        self.dismiss(value if value.strip() else None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; Esc means no."""

    BINDINGS = keys.bindings("dialog")

    def __init__(self, question: str, yes: str = "Delete") -> None:
        super().__init__(classes="small-dialog")
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(self.question, classes="dialog-title", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="error")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def action_close(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PickDialog(ModalScreen[str | None]):
    """A filter box over a list: ``find(query) -> [(id, label)]`` fills the
    list as the user types; Enter (in the box: the first match) picks one."""

    BINDINGS = keys.bindings("dialog")

    def __init__(self, title: str, find: Callable[[str], list[tuple[str, str]]], *, placeholder: str = "") -> None:
        super().__init__(classes="pick-dialog")
        self.title_text, self.find, self.placeholder = title, find, placeholder

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/]  [dim]type to filter · Enter picks · Esc closes[/]",
                         classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="pick-query")
            yield OptionList(id="pick-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#pick-query").focus()

    def _fill(self, query: str) -> None:
        options = self.query_one("#pick-list", OptionList)
        options.clear_options()
        try:
            found = self.find(query)
        except Exception as exc:  # noqa: BLE001 - shown, never raised
            found = []
            self.app.notify(" ".join(str(exc).split()), severity="error", timeout=4)
        for key, label in found:
            options.add_option(Option(label, id=key))
        if found:
            options.highlighted = 0

    @on(Input.Changed, "#pick-query")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#pick-query")
    def _first(self) -> None:
        options = self.query_one("#pick-list", OptionList)
        if options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted or 0).id)

    @on(OptionList.OptionSelected, "#pick-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)

"""What the console's modal forms share (sampling, text dialogs, backend options, remote endpoint).

A form has fields, a one-line status under them (:meth:`FormScreen.say`, in
``#form-status``), a Save button (also ctrl+s and Enter in a field: the
subclass's ``action_save``, plain or async) and a Cancel button (also Esc):
dismissed with ``None``.
"""

from __future__ import annotations

import inspect

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.tui.widgets.format import escape


class FormScreen(ModalScreen):
    """Subclasses compose a ``Static(id="form-status")`` and implement ``action_save``."""

    def say(self, text: str, *, error: bool = False) -> None:
        """One line under the fields (whitespace folded), in the error colour when ``error``."""
        line = escape(" ".join(text.split()))
        self.query_one("#form-status", Static).update(f"[b $error]{line}[/]" if error else line)

    async def action_save(self) -> None:  # pragma: no cover - every form defines it
        raise NotImplementedError

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        saved = self.action_save()
        if inspect.isawaitable(saved):
            await saved

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

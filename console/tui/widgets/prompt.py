"""The prompt box: a multi-line editor where Enter sends and a rebindable key
inserts a newline.

Every binding has an id (``send``, ``newline``, ``recall``) so the
``[keymap]`` table of the settings can rebind it. Up-arrow on an empty
prompt, or ``recall`` anywhere, puts the last sent prompt back for editing
and resending.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    """Posts :class:`PromptInput.Submitted` when the user sends a prompt."""

    BINDINGS = [
        # priority: TextArea would otherwise consume Enter as a newline itself.
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding("ctrl+j", "newline", "Newline", id="newline", priority=True),
        Binding("alt+up", "recall", "Last prompt", id="recall", show=False),
    ]

    class Submitted(Message):
        """The user sent ``text`` (already stripped, never empty)."""

        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            "",
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            placeholder="Type a message…",
        )
        self.sent: list[str] = []

    def action_submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        self.sent.append(text)
        self.clear()
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)

    def action_recall(self) -> None:
        """Put the last sent prompt back in the box (cursor at its end)."""
        if self.sent:
            self.load_text(self.sent[-1])
            self.move_cursor(self.document.end)

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and not self.text and self.sent:
            self.action_recall()
            return
        super().action_cursor_up(select)

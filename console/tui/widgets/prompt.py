"""The prompt box: a multi-line editor where Enter sends and a rebindable key
inserts a newline.

Keys are handled in the order they were typed. Enter is *not* a priority
binding: a priority binding runs when the key reaches the app, before the
characters typed just ahead of it (still queued for this widget) are
inserted, so a burst such as a paste or ``tmux send-keys "text" Enter`` sent
a cut-off prefix. Here the send and newline keys are matched in this
widget's own key handler, after every earlier key. Bracketed paste arrives
as one ``Paste`` event and is inserted as text (it never sends).

History: up on the first line walks back through the sent prompts like a
shell, down on the last line walks forward to the draft (kept); this
conversation's prompts come first, then the others'. ``recall`` (alt+up)
puts back this conversation's last prompt. A prompt put back after Esc is
*restored*: shown as such in the border, wholly selected so that typing
replaces it and Enter resends it.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from console.tui import keys

RESTORED_TITLE = "restored prompt · Enter resends · typing replaces it"


class PromptInput(TextArea):
    """Posts :class:`PromptInput.Submitted` when the user sends a prompt."""

    BINDINGS = keys.bindings("prompt")

    class Submitted(Message):
        """The user sent ``text`` (already stripped, never empty)."""

        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    class FocusMessages(Message):
        """ctrl+up: the user wants to move to the messages above."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            "",
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            placeholder="Type a message… (Enter sends · ctrl+j new line · F1 help)",
        )
        self.sent: list[str] = []  # this conversation's prompts, oldest first
        self.elsewhere: list[str] = []  # the other conversations' prompts, oldest first
        self._walk: int | None = None  # position in the walk (None: editing the draft)
        self._draft = ""

    # ------------------------------------------------------------ keys, in order

    def _typed_action(self, key: str) -> str | None:
        """``submit`` / ``newline`` when ``key`` is bound to it (the settings'
        ``[keymap]`` applied), else None."""
        keymap = getattr(self.app, "_keymap", None) or {}  # what App.set_keymap was given
        for bindings in self._bindings.key_to_bindings.values():
            for binding in bindings:
                if binding.action in ("submit", "newline"):
                    bound = keymap.get(binding.id, binding.key) if binding.id else binding.key
                    if key in (k.strip() for k in bound.split(",")):
                        return binding.action
        return None

    async def _on_key(self, event: events.Key) -> None:
        action = self._typed_action(event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            await self.run_action(action)
            return
        if self.border_title and (event.is_printable or event.key in ("backspace", "delete")):
            self.border_title = ""  # typing over a restored prompt: it is a new draft now
        # Textual then runs TextArea._on_key (handlers run along the MRO)

    async def _on_paste(self, event: events.Paste) -> None:
        """A paste is text: its line breaks stay line breaks, they never send."""
        self.border_title = ""
        if self.read_only:
            return
        event.prevent_default()  # TextArea's own handler would insert it once more
        text = event.text.replace("\r\n", "\n").replace("\r", "\n")
        if result := self._replace_via_keyboard(text, *self.selection):
            self.move_cursor(result.end_location)

    def render_line(self, y: int):
        # Textual cannot wrap the placeholder into zero columns (a terminal a few
        # columns wide, or the first layout pass): draw a blank line instead
        if self.content_size.width <= 0:
            from textual.strip import Strip

            return Strip.blank(max(self.size.width, 0))
        return super().render_line(y)

    # ------------------------------------------------------------ actions

    def action_submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        self.sent.append(text)
        self._walk, self._draft = None, ""
        self.border_title = ""
        self.clear()
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        start, end = self.selection
        self.border_title = ""
        self._replace_via_keyboard("\n", start, end)

    def action_recall(self) -> None:
        """Put this conversation's last sent prompt back in the box (cursor at its end)."""
        if self.sent:
            self.load_text(self.sent[-1])
            self.move_cursor(self.document.end)

    def restore(self, text: str) -> None:
        """Put ``text`` back after a stopped reply, marked as restored and
        selected (typing replaces it; Enter resends it)."""
        self.load_text(text)
        self.select_all()
        self.border_title = RESTORED_TITLE

    def action_focus_messages(self) -> None:
        self.post_message(self.FocusMessages())

    def set_history(self, here: list[str], everywhere: list[str]) -> None:
        """This conversation's prompts and every prompt (both oldest first)."""
        self.sent = list(here)
        self.elsewhere = [p for p in everywhere if p not in set(here)]
        self._walk = None

    def _entries(self) -> list[str]:
        """The walk order, newest first: this conversation's, then the others'."""
        return list(reversed(self.sent)) + list(reversed(self.elsewhere))

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0:  # on the first line: like a shell
            self._step_history(1)
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        last_row = self.document.line_count - 1
        if not select and self._walk is not None and self.cursor_location[0] == last_row:
            self._step_history(-1)
            return
        super().action_cursor_down(select)

    def _step_history(self, step: int) -> None:
        entries = self._entries()
        if not entries:
            return
        if self._walk is None:
            if step < 0:
                return
            self._draft, position = self.text, 0
        else:
            position = self._walk + step
        if position < 0:  # walked past the newest: back to the draft
            self._walk = None
            self.load_text(self._draft)
        else:
            self._walk = min(position, len(entries) - 1)
            self.load_text(entries[self._walk])
        self.border_title = ""
        self.move_cursor(self.document.end)

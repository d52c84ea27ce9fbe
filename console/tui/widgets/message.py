"""One chat turn on screen: a header line, the body and, for replies, a dim
one-line footer with the reply's figures (``d`` shows them in full).

User and system text is shown verbatim (a ``Static`` without markup: what
was typed, line breaks and ``__init__`` included). Replies are Markdown with
highlighted code fences. Streaming goes through Textual's ``MarkdownStream``
(``Markdown.get_stream``), which appends to the document instead of
re-rendering it. Deltas are batched: :meth:`MessageView.push` only appends to
a buffer (cheap, called per token); a timer flushes the buffer to the stream
at :data:`FLUSH_HZ`. When the reply ends the body is re-rendered once from
the full text, so a code fence that was open while streaming is drawn
correctly.

A message can take focus (ctrl+up from the prompt, then up/down): ``e``
edits a user turn (fork), left/right move between alternatives, ``c``
copies the message and ``k`` its code blocks. The view posts messages; the
chat screen acts on them.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from console.tui import keys
from console.tui.widgets.format import escape

#: How often buffered reply text is written to the Markdown stream (each
#: write grows the message, i.e. lays out the screen: keep it modest).
FLUSH_HZ = 10

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}
STATUS_MARKS = {
    "cancelled": "[b $warning]cancelled[/] [dim](stopped)[/]",
    "failed": "[b $error]failed[/]",
    "streaming": "[dim]streaming[/]",
    "complete": "",
}
#: Marks of how a reply ended, when it did not end on its own.
ENDING_MARKS = {
    "length": "[b $warning]cut at max tokens[/]",
}
FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1\s*$", re.S | re.M)


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks of ``markdown``, in order."""
    return [m.group(2).rstrip("\n") for m in FENCE.finditer(markdown)]


class MessageView(Vertical, can_focus=True):
    """A chat message. ``role`` is user | assistant | system; ``message_id``
    the stored message (``None`` for a view not stored, e.g. side by side)."""

    BINDINGS = keys.bindings("message")

    class Action(Message):
        """The user asked for ``action`` (edit, alternative, move, leave) on ``view``."""

        def __init__(self, view: MessageView, action: str, step: int = 0) -> None:
            super().__init__()
            self.view, self.action, self.step = view, action, step

    def __init__(self, role: str, text: str = "", *, source: str = "", status: str = "complete",
                 footer: str = "", details: str = "", message_id: int | None = None,
                 ending: str | None = None, alternative: tuple[int, int] | None = None) -> None:
        super().__init__(classes=f"message -{role}")
        self.role = role
        self.text = text
        self.source = source
        self.status = status
        self.message_id = message_id
        self.ending = ending
        self.alternative = alternative
        self._footer_text = footer
        self._details = details
        self._show_details = False
        self._pending: list[str] = []
        self._stream: MarkdownStream | None = None
        self._flush_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._header_markup(), classes="message-header", markup=True)
        if self.role == "assistant":
            yield Markdown(self.text, classes="message-body")
        else:
            yield Static(self.text, classes="message-body -verbatim", markup=False)
        yield Static(self._footer_text, classes="message-footer", markup=True)

    def on_mount(self) -> None:
        self.query_one(".message-footer").display = bool(self._footer_text)
        if self._details:
            self.query_one(".message-footer").tooltip = self._details

    def _header_markup(self) -> str:
        title = ROLE_TITLES.get(self.role, self.role)
        source = f" [dim]{escape(self.source)}[/]" if self.source else ""
        mark = STATUS_MARKS.get(self.status, self.status)
        if self.status == "complete" and self.ending in ENDING_MARKS:
            mark = ENDING_MARKS[self.ending]
        alt = ""
        if self.alternative:
            alt = f"  [dim]◀ {self.alternative[0]}/{self.alternative[1]} ▶[/]"
        return f"[b]{title}[/]{source}" + (f"  {mark}" if mark else "") + alt

    @property
    def body(self):
        return self.query_one(".message-body")

    def set_status(self, status: str, *, source: str | None = None, ending: str | None = None) -> None:
        self.status = status
        if source is not None:
            self.source = source
        if ending is not None:
            self.ending = ending
        self.query_one(".message-header", Static).update(self._header_markup())
        self.set_class(status == "cancelled", "-cancelled")
        self.set_class(status == "failed", "-failed")

    def set_footer(self, markup: str, details: str = "") -> None:
        self._footer_text = markup
        if details:
            self._details = details
        footer = self.query_one(".message-footer", Static)
        footer.update(self._details if self._show_details and self._details else markup)
        footer.tooltip = self._details or None
        footer.display = bool(markup)

    def add_error(self, error: str) -> None:
        """Append a one-line error under the footer's figures."""
        line = f"[$error]{escape(error)}[/]"
        self.set_footer(f"{self._footer_text}\n{line}" if self._footer_text else line)

    # -- actions (the screen acts on edit / alternative / move / leave) --------

    def action_edit(self) -> None:
        if self.role == "user" and self.message_id is not None:
            self.post_message(self.Action(self, "edit"))

    def action_alternative(self, step: int) -> None:
        if self.alternative and self.message_id is not None:
            self.post_message(self.Action(self, "alternative", step))

    def action_move(self, step: int) -> None:
        self.post_message(self.Action(self, "move", step))

    def action_leave(self) -> None:
        self.post_message(self.Action(self, "leave"))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.app.notify("Message copied to the clipboard.", timeout=2)

    def action_copy_code(self) -> None:
        blocks = code_blocks(self.text)
        if not blocks:
            self.app.notify("This message has no code block.", timeout=2)
            return
        self.app.copy_to_clipboard("\n\n".join(blocks))
        self.app.notify(f"{len(blocks)} code block(s) copied to the clipboard.", timeout=2)

    def action_details(self) -> None:
        if not self._details:
            return
        self._show_details = not self._show_details
        self.set_footer(self._footer_text)

    # -- streaming -------------------------------------------------------------

    def start_stream(self) -> None:
        """Begin streaming into the body (the message must be mounted)."""
        self.set_status("streaming")
        self._stream = Markdown.get_stream(self.body)
        self._flush_timer = self.set_interval(1 / FLUSH_HZ, self._flush, name="reply-flush")

    def push(self, text: str) -> None:
        """Append reply text; drawn at the next flush, never per token."""
        self.text += text
        self._pending.append(text)

    async def _flush(self) -> None:
        if self._pending and self._stream is not None:
            chunk = "".join(self._pending)
            self._pending.clear()
            await self._stream.write(chunk)

    async def finish_stream(self, status: str, *, text: str | None = None, ending: str | None = None) -> None:
        """Stop streaming and draw the final text once (``text`` replaces the
        streamed text when the session reports a different final one)."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        stream, self._stream = self._stream, None
        self._pending.clear()
        if stream is not None:
            await stream.stop()
        if text is not None:
            self.text = text
        await self.body.update(self.text)
        self.set_status(status, ending=ending)

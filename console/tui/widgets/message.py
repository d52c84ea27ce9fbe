"""One chat turn on screen: a header line, a Markdown body and, for replies,
a dim footer with the reply's figures.

Streaming goes through Textual's ``MarkdownStream`` (``Markdown.get_stream``),
which appends to the document instead of re-rendering it. Deltas are batched:
:meth:`MessageView.push` only appends to a buffer (cheap, called per token);
a timer flushes the buffer to the stream at :data:`FLUSH_HZ`. When the reply
ends the body is re-rendered once from the full text, so a code fence that
was open while streaming is drawn correctly.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from console.tui.widgets.format import escape

#: How often buffered reply text is written to the Markdown stream (each
#: write grows the message, i.e. lays out the screen: keep it modest).
FLUSH_HZ = 10

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}
STATUS_MARKS = {
    "cancelled": "[b $warning]cancelled[/]",
    "failed": "[b $error]failed[/]",
    "streaming": "[dim]streaming[/]",
    "complete": "",
}


class MessageView(Vertical):
    """A chat message. ``role`` is user | assistant | system."""

    def __init__(self, role: str, text: str = "", *, source: str = "", status: str = "complete",
                 footer: str = "") -> None:
        super().__init__(classes=f"message -{role}")
        self.role = role
        self.text = text
        self.source = source
        self.status = status
        self._footer_text = footer
        self._pending: list[str] = []
        self._stream: MarkdownStream | None = None
        self._flush_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._header_markup(), classes="message-header", markup=True)
        yield Markdown(self.text, classes="message-body")
        yield Static(self._footer_text, classes="message-footer", markup=True)

    def on_mount(self) -> None:
        self.query_one(".message-footer").display = bool(self._footer_text)

    def _header_markup(self) -> str:
        title = ROLE_TITLES.get(self.role, self.role)
        source = f" [dim]{self.source}[/]" if self.source else ""
        mark = STATUS_MARKS.get(self.status, self.status)
        return f"[b]{title}[/]{source}" + (f"  {mark}" if mark else "")

    @property
    def body(self) -> Markdown:
        return self.query_one(".message-body", Markdown)

    def set_status(self, status: str, *, source: str | None = None) -> None:
        self.status = status
        if source is not None:
            self.source = source
        self.query_one(".message-header", Static).update(self._header_markup())
        self.set_class(status == "cancelled", "-cancelled")
        self.set_class(status == "failed", "-failed")

    def set_footer(self, markup: str) -> None:
        self._footer_text = markup
        footer = self.query_one(".message-footer", Static)
        footer.update(markup)
        footer.display = bool(markup)

    def add_error(self, error: str) -> None:
        """Append a one-line error under the footer's figures."""
        line = f"[$error]{escape(error)}[/]"
        self.set_footer(f"{self._footer_text}\n{line}" if self._footer_text else line)

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

    async def finish_stream(self, status: str, *, text: str | None = None) -> None:
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
        self.set_status(status)

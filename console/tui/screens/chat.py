"""The main screen: conversation list, chat, prompt and live metric panels.

Layout adapts to the terminal through breakpoints: ``-wide`` (>= 110
columns) shows the sidebar and the panel column; below that (and before the
first layout, so that no width is ever too small) both are hidden and a
three-line metrics strip sits above the prompt instead (F2 / F3 bring the
sidebar / panels back on demand).

On a first run (no conversation stored) a notice says what the built-in
model is and how to get real answers.

A reply streams in an async worker (``exclusive`` in group ``"reply"``, so it
can be cancelled). The engine itself runs off the event loop (the backends
use a thread); the worker only appends text to the message's buffer, and the
panels are repainted by a timer at ``REFRESH_HZ`` from ``Metrics.snapshot()``.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker

from console.api import Event, Failed, Finished, Started, TextDelta
from console.tui import gcpause
from console.tui.widgets import format as fmt
from console.tui.screens.chat_manage import ManageConversations
from console.tui.widgets.conversations import ConversationList
from console.tui.widgets.message import MessageView
from console.tui.widgets.panels import REFRESH_HZ, MetricsPanels, MetricsStrip
from console.tui.widgets.prompt import PromptInput

#: Seconds a cancelled reply may take to wind down before its worker is cancelled.
CANCEL_GRACE_S = 1.0

WELCOME = (
    "[b]Welcome to moe-console.[/] The built-in model of the [b]local[/] backend is a 4.9M-parameter "
    "demo: it learned the chat format, not facts, so its replies read like chat but say nothing true. "
    "For real answers, set [b]model_path[/] under [b][backends.local][/] in settings.toml to a real "
    "checkpoint folder, or add a server you run (vLLM, SGLang, moe-console serve...) as a remote backend "
    "(ctrl+b, then a). "
    "The panels (F3, or the strip below) show each reply's speed, latency, cost, MoE routing and "
    "context use, each labelled [b]measured[/] on this machine or [b]modeled[/] for the hardware a "
    "modeled backend stands for (h100, ascend950). ctrl+t runs one prompt on several backends side by "
    "side; F1 lists every key."
)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class ChatScreen(ManageConversations, Screen):
    """The chat. ``app.session`` (a ``ChatSession``) holds the state."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    AUTO_FOCUS = "#prompt"

    def __init__(self) -> None:
        super().__init__(id="chat")
        self._reply: Worker | None = None
        self._warm = False  # True once a reply has finished (the backend's model is loaded)

    @property
    def session(self):
        return self.app.session

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Horizontal(id="main"):
            yield ConversationList(id="sidebar")
            with Vertical(id="chat-column"):
                with VerticalScroll(id="messages"):
                    yield Static(WELCOME, id="welcome")
                    yield Vertical(id="thread")
                    yield Static("", id="spacer")
                yield MetricsStrip(id="strip")
                yield PromptInput(id="prompt")
            yield MetricsPanels(id="panels")
        yield Static("", id="statusbar", markup=True)
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#sidebar").border_title = "Conversations"
        self.query_one("#messages").anchor()
        conv = self.session.conversation
        listed = self.session.conversations()
        self.query_one("#welcome").display = not listed
        if conv is None and listed:
            self._select(listed[0].id)
        await self.render_conversation()
        self.set_interval(1 / REFRESH_HZ, self.refresh_panels, name="panels")
        self.refresh_panels()
        self.query_one(PromptInput).focus()
        ready = getattr(self.app, "input_ready", None)
        if ready is not None:
            self.app.call_later(ready)  # after the focus above: held keys go to the prompt

    def _select(self, conversation_id: int) -> None:
        """Make a conversation current; say so when its backend did not come back."""
        self.session.select(conversation_id)
        note = getattr(self.session, "note", None)
        if note:
            self.app.notify(note, title="Backend", severity="warning", timeout=8)

    def _thread_views(self) -> list[MessageView]:
        return list(self.query_one("#thread", Vertical).query(MessageView))

    # -------------------------------------------------------------- painting
    async def render_conversation(self, *, skip_id: int | None = None) -> None:
        """Redraw the message list, sidebar, header and status from the session
        (``skip_id``: a reply about to stream, drawn by ``_start_reply``)."""
        log = self.query_one("#messages", VerticalScroll)
        thread = self.query_one("#thread", Vertical)
        await thread.remove_children()
        conv = self.session.conversation
        views = []
        if conv is not None and conv.system_prompt:
            views.append(MessageView("system", conv.system_prompt))
        for msg in conv.messages if conv is not None else ():
            if msg.role == "system" or msg.id == skip_id:
                continue
            footer = details = ""
            if msg.role == "assistant":
                tokens = msg.usage.completion_tokens if msg.usage else None
                footer = fmt.reply_footer(msg.backend or "?", tokens, msg.timing, msg.cost, status=msg.status)
                details = fmt.reply_details(msg.backend or "?", msg.usage, msg.timing, msg.cost)
                if msg.error:
                    footer += f"\n[$error]{fmt.escape(msg.error)}[/]"
            views.append(MessageView(msg.role, msg.content, source=_source(msg.backend, msg.model),
                                     status=msg.status, footer=footer, details=details, message_id=msg.id,
                                     ending=msg.finish_reason, alternative=conv.alternatives.get(msg.id)))
        if views:
            await thread.mount_all(views)
        await self.show_window_start()
        log.scroll_end(animate=False)
        self.refresh_header()
        self._load_prompt_history()

    async def show_window_start(self) -> None:
        """A marker above the first turn the model still sees, when older
        turns no longer fit its context window; a notice the first time."""
        thread = self.query_one("#thread", Vertical)
        for marker in list(thread.query(".window-start")):
            await marker.remove()
        start = getattr(self.session, "window_start", lambda: None)()
        if start is None:
            return
        message_id, dropped = start
        target = next((v for v in self._thread_views() if v.message_id == message_id), None)
        if target is None:
            return
        await thread.mount(Static(f"[dim]── the model's context window starts here: the {dropped} turn(s) above "
                                  "are no longer sent ──[/]", classes="window-start"), before=target)
        store = self.app.store
        if getattr(store, "preference", None) is not None and not store.preference("window_notice_seen"):
            store.set_preference("window_notice_seen", "1")
            self.app.notify("This conversation is longer than the model's context window: its oldest turns are "
                            "no longer sent to the model. A line in the chat marks where the window starts.",
                            title="Context window", timeout=10)

    def _load_prompt_history(self) -> None:
        try:
            here = self.session.prompt_history(here_only=True)
            everywhere = self.session.prompt_history()
        except Exception:  # noqa: BLE001 - a session without history (tests): keep what the box has
            return
        self.query_one(PromptInput).set_history(here, everywhere)

    async def show_system_prompt(self, text: str) -> None:
        """Draw (or update, or remove) the system prompt at the top of the chat
        without touching the turns, so it is safe while a reply streams."""
        thread = self.query_one("#thread", Vertical)
        current = [v for v in thread.query(MessageView) if v.role == "system"]
        for view in current:
            await view.remove()
        if text.strip():
            view = MessageView("system", text)
            if thread.children:
                await thread.mount(view, before=0)
            else:
                await thread.mount(view)

    def refresh_header(self) -> None:
        conv = self.session.conversation
        self.app.sub_title = conv.title if conv is not None else "new conversation"
        listed = self.session.conversations()
        self.query_one(ConversationList).show(listed, conv.id if conv else None)
        if listed:
            self.query_one("#welcome").display = False
        self.refresh_status()

    def refresh_status(self) -> None:
        name = self.session.backend_name
        try:
            info = self.app.host.entry(name).info
            kind, model = info.kind, info.model or info.display_name
        except Exception:  # noqa: BLE001 - a broken backend still gets a status line
            kind, model = "?", ""
        model = self.app.metrics.snapshot(name).model or model
        s = self.session.sampling
        seed = "—" if s.seed is None else s.seed
        state = "[b $warning]streaming[/] (Esc stops)" if self.session.busy else "idle"
        self.query_one("#statusbar", Static).update(
            f"[b]{fmt.escape(name)}[/] [dim]({kind})[/] · {fmt.escape(model)} · {state} · "
            f"[dim]T {s.temperature:g} top-p {s.top_p:g} top-k {s.top_k} max {s.max_tokens} seed {seed}[/]",
            layout=False,  # one fixed line
        )

    def refresh_panels(self) -> None:
        """Timer callback: one ``Metrics.snapshot()`` for every visible panel."""
        snap = self.app.metrics.snapshot(self.session.backend_name)
        panels = self.query_one(MetricsPanels)
        if panels.display:
            panels.show(snap)
        strip = self.query_one(MetricsStrip)
        if strip.display:
            strip.show(snap)

    # --------------------------------------------------------------- turns
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if self.session.busy:
            self.app.notify("A reply is streaming: Esc stops it first.", severity="warning", timeout=3)
            event.prompt.load_text(event.text)
            return
        before = self.session.conversation
        try:
            reply = self.session.send(event.text)
        except Exception as exc:  # noqa: BLE001 - SessionBusy / ValueError: one line
            self.app.notify(one_line(exc), severity="warning", timeout=4)
            event.prompt.load_text(event.text)
            return
        self.query_one("#welcome").display = False
        if before is None:  # send() opened a conversation: it may carry a system prompt
            await self.show_system_prompt(self.session.conversation.system_prompt)
        user_id = self.session.conversation.messages[-2].id if self.session.conversation else None
        await self.query_one("#thread", Vertical).mount(MessageView("user", event.text, message_id=user_id))
        await self._start_reply(reply)

    async def _start_reply(self, events: AsyncIterator[Event]) -> None:
        view = MessageView("assistant", source=self.session.backend_name, status="streaming",
                           message_id=getattr(events, "message_id", None))
        await self.query_one("#thread", Vertical).mount(view)
        log = self.query_one("#messages", VerticalScroll)
        log.anchor()
        log.scroll_end(animate=False)
        view.start_stream()
        self._reply = self._stream_reply(events, view)
        self.refresh_status()

    @work(exclusive=True, group="reply", exit_on_error=False, description="stream reply")
    async def _stream_reply(self, events: AsyncIterator[Event], view: MessageView) -> None:
        with gcpause.paused():
            await self._consume_reply(events, view)

    async def _consume_reply(self, events: AsyncIterator[Event], view: MessageView) -> None:
        """Feed ``events`` to ``view`` (text only: the panels read the metrics)."""
        status, final_text, error, ending = "cancelled", None, None, None
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    view.push(event.text)
                elif isinstance(event, Started):
                    view.set_status("streaming", source=_source(event.backend, event.model))
                elif isinstance(event, Finished):
                    status = "cancelled" if event.reason == "cancelled" else "complete"
                    ending = event.reason
                    backend = view.source.split(" · ")[0]  # the model is in the header already
                    view.set_footer(fmt.reply_footer(backend, event.usage.completion_tokens, event.timing,
                                                     event.cost, status=status),
                                    fmt.reply_details(view.source, event.usage, event.timing, event.cost))
                elif isinstance(event, Failed):
                    status, error = "failed", event.error
                    if event.partial_text and not view.text:
                        final_text = event.partial_text
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - a bad turn must not kill the console
            status, error = "failed", one_line(exc)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001
                    pass
            await view.finish_stream(status, text=final_text, ending=ending)
            self._show_alternatives(view)
            await self.show_window_start()
            if error:
                view.add_error(error)
                self.app.notify(error, title="Reply failed", severity="error", timeout=8)
            self.refresh_header()
            if not self._warm and status == "complete":
                self._warm = True
                gcpause.freeze_heap()  # the backend's model is loaded now: long-lived

    def _show_alternatives(self, view: MessageView) -> None:
        """A regenerated reply: show its place among the turn's alternatives."""
        conv = self.session.conversation
        if conv is not None and view.message_id is not None:
            view.alternative = conv.alternatives.get(view.message_id)
            view.set_status(view.status)

    def cancel_reply(self) -> None:
        """Esc: stop the reply, keep its text (marked cancelled), offer the prompt again."""
        worker = self._reply
        if worker is None or not worker.is_running:
            return
        if not self.session.cancel():
            return  # the reply already ended; the worker is drawing its last events
        # the stream ends with Finished(cancelled); cancel the worker only if it hangs
        self.set_timer(CANCEL_GRACE_S, lambda: worker.cancel() if worker.is_running else None)
        prompt = self.query_one(PromptInput)
        if not prompt.text and prompt.sent:
            prompt.restore(prompt.sent[-1])
            self.app.notify("Reply stopped. Your prompt is back, selected: Enter resends it, typing replaces it.",
                            timeout=4)
        else:
            self.app.notify("Reply stopped; its text is kept.", timeout=3)

    async def regenerate(self) -> None:
        if self.session.busy:
            self.app.notify("A reply is streaming: Esc stops it first.", severity="warning", timeout=3)
            return
        conv = self.session.conversation
        if conv is None or not any(m.role == "user" for m in conv.messages):
            self.app.notify("Nothing to regenerate yet.", timeout=3)
            return
        try:
            reply = self.session.regenerate()
        except Exception as exc:  # noqa: BLE001 - one line
            self.app.notify(one_line(exc), severity="warning", timeout=4)
            return
        views = self._thread_views()
        if views and views[-1].role == "assistant":
            await views[-1].remove()  # still stored: an alternative of the new reply
        await self._start_reply(reply)

    async def _wind_down(self) -> None:
        """Cancel a reply in flight and wait for its worker to finish drawing."""
        worker = self._reply
        if worker is not None and worker.is_running:
            self.session.cancel()
            try:
                await asyncio.wait_for(worker.wait(), CANCEL_GRACE_S)
            except Exception:  # noqa: BLE001 - timeout or the worker's own error
                worker.cancel()

    async def switch_backend(self, name: str) -> None:
        """Switch; each refused ``[backends.<name>]`` value (table, key, value,
        rule: the default is used instead) is a notification of its own."""
        was_busy = self.session.busy
        try:
            problems = await self.session.switch_backend(name)
        except Exception as exc:  # noqa: BLE001 - PluginError / OptionError: shown, not raised
            self.app.notify(one_line(exc), title="Backend not switched", severity="error", timeout=8)
            return
        await self._wind_down()
        note = " (the reply in flight was stopped and kept)" if was_busy else ""
        self.app.notify(f"Next turn runs on {name}{note}", title="Backend", timeout=4)
        for problem in problems or ():
            self.app.notify(problem, title=f"Settings: options of {name}", severity="warning", timeout=10)
        self.refresh_status()
        self.refresh_panels()

    async def new_conversation(self) -> None:
        await self._wind_down()
        self.session.new_conversation()
        await self.render_conversation()
        self.query_one(PromptInput).focus()

    async def open_conversation(self, conversation_id: int) -> None:
        await self._wind_down()
        try:
            self._select(conversation_id)
        except Exception as exc:  # noqa: BLE001 - StoreError: a readable line
            self.app.notify(one_line(exc), severity="error")
            return
        await self.render_conversation()
        self.refresh_panels()

    @on(ConversationList.Chosen)
    async def _chosen(self, event: ConversationList.Chosen) -> None:
        conv = self.session.conversation
        if conv is None or conv.id != event.conversation_id:
            await self.open_conversation(event.conversation_id)

    # ------------------------------------------------------------- layout
    def toggle_sidebar(self) -> None:
        self._toggle("sidebar")

    def toggle_panels(self) -> None:
        self._toggle("panels")

    def _toggle(self, part: str) -> None:
        shown = self.query_one(f"#{part}").display
        self.set_class(not shown, f"-{part}-shown")
        self.set_class(shown, f"-{part}-hidden")
        self.refresh_panels()

    def export(self, store, fmt: str = "md") -> None:
        from console.tui.export import export_conversation

        try:
            path = export_conversation(store, self.session.conversation, fmt=fmt)
        except Exception as exc:  # noqa: BLE001 - shown as one line
            self.app.notify(one_line(exc), title="Export failed", severity="error")
            return
        self.app.notify(f"Saved {path}", title="Exported", timeout=6)


def _source(backend: str | None, model: str | None) -> str:
    parts = [p for p in (backend, model) if p]
    return " · ".join(parts)

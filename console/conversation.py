"""The chat session: conversations, the current backend, streaming replies.

:class:`ChatSession` ties together the plugin host (backends), the store
(persistence), the settings and the metrics. Use it from one asyncio event
loop (the TUI's). Guarantees:

* the user's turn is stored *before* the request is sent (``send`` stores it
  synchronously, before it returns);
* the reply is stored as it streams (status ``"streaming"``, throttled to
  every ``persist_interval_s`` seconds or ``persist_every_tokens`` tokens),
  then as ``"complete"``, ``"cancelled"`` or ``"failed"`` with its text kept
  and its backend, model, usage, timing and cost;
* cancelling (``cancel()``, switching backend, ``aclose()`` on the stream, or
  cancelling the task reading it) stops the backend promptly and keeps the
  partial reply as ``"cancelled"`` (see :mod:`console.reply`).

Request history: the conversation's system prompt (if any), then every user
turn and every assistant turn whose status is ``"complete"`` or
``"cancelled"`` with text. A user turn whose reply failed is left out of later
requests (its text stays stored and shown) so that one over-long prompt does
not break the conversation; ``regenerate()`` retries it.

Branches: ``regenerate()`` and ``edit()`` add a sibling turn instead of
replacing one, so every earlier reply stays reachable (``alternative()``).

The current conversation is read from the store once and cached; the cache
is dropped whenever the store writes (``Store.generation``), so it is never
stale and a turn costs one load instead of one per access.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

from console.api import Backend, Failed, OptionError, PluginError, Request, Sampling
from console.conversation_compare import CompareResult, SideBySide
from console.session_backends import BackendInstances, _context_window
from console.metrics import Metrics
from console.reply import ReplyStream, one_line
from console.settings import Settings
from console.store import DEFAULT_TITLE, ConversationRecord, Store
from console.turns import SessionBusy, _history, _title, history

class ChatSession(SideBySide, BackendInstances):
    """One user's chat state. ``host`` is a :class:`console.plugins.PluginHost`
    (``entry``/``backends``, ``create``, ``stream``). ``clock`` drives the
    persistence throttle and measured cancel timings. ``problems`` collects
    readable lines (bad backend options, unavailable default backend) for the
    TUI to show."""

    def __init__(
        self, host: Any, store: Store, settings: Settings, metrics: Metrics, *,
        clock: Callable[[], float] = time.monotonic, persist_interval_s: float = 0.5,
        persist_every_tokens: int = 32,
    ) -> None:
        self.host, self.store, self.settings, self.metrics = host, store, settings, metrics
        self._clock = clock
        self._persist = (persist_interval_s, persist_every_tokens)
        self.problems: list[str] = []
        self._backends: dict[str, Backend] = {}
        self._reply: ReplyStream | None = None
        self._compares: set[ReplyStream] = set()
        self._conversation_id: int | None = None
        self._cached: tuple[int, int, ConversationRecord] | None = None  # (id, store generation, record)
        self.window_starts: dict[int, tuple[int, int]] = {}  # conversation -> (first message seen, dropped)
        self._sampling = settings.sampling
        self._backend_name = self._pick_default(settings.default_backend)
        for name in settings.backend_options:  # bad [backends.*] values are reported at start-up
            self.problems.extend(self.option_problems(name))

    def _pick_default(self, name: str) -> str:
        try:
            names = [e.name for e in self.host.backends()]
        except Exception as exc:  # noqa: BLE001 - a broken host must not stop the console
            self.problems.append(f"cannot list backends: {one_line(exc)}")
            return name
        if name in names or not names:
            if not names:
                self.problems.append("no backend is available (see the plugins screen)")
            return name
        fallback = "local" if "local" in names else names[0]
        self.problems.append(f"default_backend {name!r} is not available (known: {', '.join(names)}); "
                             f"using {fallback!r}")
        return fallback

    # ------------------------------------------------------------ conversations

    @property
    def conversation(self) -> ConversationRecord | None:
        """The current conversation with its messages as stored now (``None``
        before the first); loaded again only after the store wrote."""
        if self._conversation_id is None:
            return None
        generation = getattr(self.store, "generation", None)
        cached = self._cached
        if cached is not None and generation is not None and cached[:2] == (self._conversation_id, generation):
            return cached[2]
        conv = self.store.load(self._conversation_id)
        self._cached = (conv.id, generation, conv) if generation is not None else None
        return conv

    def conversations(self) -> list[ConversationRecord]:
        return self.store.list_conversations()

    def new_conversation(self, title: str | None = None) -> ConversationRecord:
        changed = self._sampling if self._sampling != self.settings.sampling else None  # set before it began
        conv = self.store.new_conversation(title or DEFAULT_TITLE, self.settings.system_prompt,
                                           backend=self._backend_name, sampling=changed)
        self._conversation_id = conv.id
        self.metrics.set_conversation(conv.id)
        return conv

    def select(self, conversation_id: int) -> ConversationRecord:
        """Make a stored conversation current (unknown id -> ``StoreError``).

        It comes back on the backend it last used when that one is
        available; otherwise :attr:`note` says why it stays on the current
        one. Its sampling is its own (``Store.set_sampling``)."""
        conv = self.store.load(conversation_id)
        self._conversation_id = conv.id
        self._cached = (conv.id, getattr(self.store, "generation", None), conv)
        self.metrics.set_conversation(conv.id, prior_cost_usd=conv.cost_usd)
        self.note = None
        wanted = conv.backend
        if wanted and wanted != self._backend_name:
            try:
                self._create(wanted)
            except Exception as exc:  # noqa: BLE001 - PluginError / OptionError / a broken plugin
                self.note = (f"this conversation ran on {wanted}, which is not available "
                             f"({one_line(exc)}); it continues on {self._backend_name}")
            else:
                self._backend_name = wanted
        return conv

    #: A line for the user after :meth:`select` (why the backend did not come back), else None.
    note: str | None = None

    def rename(self, conversation_id: int, title: str) -> None:
        self.store.rename(conversation_id, title)

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        self.store.set_pinned(conversation_id, pinned)

    def delete(self, conversation_id: int) -> None:
        """Delete a stored conversation (the current one: none is current after)."""
        self.store.delete(conversation_id)
        if conversation_id == self._conversation_id:
            self._conversation_id, self._cached = None, None
            self.metrics.set_conversation(None)

    def search(self, text: str):
        """``Store.search``: conversations matching ``text`` in a title or a message."""
        return self.store.search(text)

    def prompt_history(self, *, here_only: bool = False, contains: str = "") -> list[str]:
        """Sent prompts, oldest first: this conversation's, or every one."""
        if here_only and self._conversation_id is None:
            return []
        return self.store.prompts(self._conversation_id if here_only else None, contains=contains)

    def alternative(self, message_id: int, step: int) -> ConversationRecord:
        """Show the branch of the ``step``-th sibling of ``message_id`` (-1 previous, 1 next)."""
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        if self._conversation_id is None:
            raise ValueError("no conversation yet")
        return self.store.alternative(self._conversation_id, message_id, step)

    def set_system_prompt(self, text: str) -> None:
        """The system prompt of the current conversation (of the next one when none)."""
        if self._conversation_id is None:
            self.settings = dataclasses.replace(self.settings, system_prompt=text)
        else:
            self.store.set_system_prompt(self._conversation_id, text)

    @property
    def sampling(self) -> Sampling:
        """The current conversation's sampling, else the session's default."""
        conv = self.conversation
        return conv.sampling if conv is not None and conv.sampling is not None else self._sampling

    @sampling.setter
    def sampling(self, value: Sampling) -> None:
        """Sets the current conversation's sampling (the default of new ones when none is current)."""
        if not isinstance(value, Sampling):
            raise TypeError("sampling must be a console.api.Sampling")
        if self._conversation_id is not None:
            self.store.set_sampling(self._conversation_id, value)
        else:
            self._sampling = value

    # ------------------------------------------------------------ backends

    @property
    def backend_name(self) -> str:
        return self._backend_name

    @property
    def backend(self) -> Backend:
        """The current backend instance (created on first use)."""
        return self._create(self._backend_name)

    def streams(self) -> list[ReplyStream]:
        """The replies streaming now: the chat's and the side-by-side runs."""
        return [r for r in [self._reply, *self._compares] if r is not None and not r.done.is_set()]

    @property
    def last_reply(self) -> ReplyStream | None:
        """The chat's latest reply (streaming or over), for its ``warning``."""
        return self._reply

    @property
    def busy(self) -> bool:
        """True while a reply (or a compare run) is streaming."""
        return (self._reply is not None and not self._reply.done.is_set()) or bool(self._compares)

    async def switch_backend(self, name: str) -> list[str]:
        """Make ``name`` current. The backend is created first (unknown name ->
        ``PluginError``, nothing changes); then an in-flight reply is cancelled
        (kept as cancelled) and waited for. The next turn runs on ``name``.
        Returns :meth:`option_problems` of ``name``, for the screen to show."""
        self._create(name)
        reply = self._reply
        if reply is not None and reply.cancel():
            await reply.wait()
        self._backend_name = name
        if self._conversation_id is not None:
            self.store.set_backend(self._conversation_id, name)
        return self.option_problems(name)

    # ------------------------------------------------------------ turns

    def send(self, text: str) -> ReplyStream:
        """Store the user turn, then start the reply; returns its event stream.

        Call from the event loop. Raises ``SessionBusy`` while another reply
        streams and ``ValueError`` for blank text. The user turn is stored even
        when the backend then fails (the stream yields one ``Failed``).
        """
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        if not text.strip():
            raise ValueError("nothing to send: the message is empty")
        conv = self.conversation or self.new_conversation()
        if conv.title == DEFAULT_TITLE and not any(m.role == "user" for m in conv.messages):
            self.store.rename(conv.id, _title(text))
        self.store.add_prompt(conv.id, text)
        self.store.add_message(conv.id, "user", text)
        return self._start(conv.id)

    def edit(self, message_id: int, text: str) -> ReplyStream:
        """Fork at a past user turn: ``text`` becomes a new turn beside it (same
        place in the conversation) and a reply streams for it. The original
        turn and everything after it stay, as the other alternative."""
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        if not text.strip():
            raise ValueError("nothing to send: the message is empty")
        conv = self.conversation
        original = next((m for m in (conv.messages if conv else ()) if m.id == message_id), None)
        if original is None or original.role != "user":
            raise ValueError("only a user turn of this conversation can be edited")
        self.store.add_prompt(conv.id, text)
        self.store.add_message(conv.id, "user", text, parent_id=original.parent_id)
        return self._start(conv.id)

    def regenerate(self) -> ReplyStream:
        """A new reply to the last user turn, on the current backend; the
        previous reply (whatever its status) stays as an alternative."""
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        conv = self.conversation
        if conv is None or not any(m.role == "user" for m in conv.messages):
            raise ValueError("nothing to regenerate: no user turn yet")
        last_user = max(i for i, m in enumerate(conv.messages) if m.role == "user")
        return self._start(conv.id, parent_id=conv.messages[last_user].id)

    def _start(self, conversation_id: int, parent_id: Any = None) -> ReplyStream:
        conv = self.conversation
        if parent_id is not None:  # a new reply beside others: the history ends at its user turn
            upto = next(i for i, m in enumerate(conv.messages) if m.id == parent_id) + 1
            conv = dataclasses.replace(conv, messages=conv.messages[:upto])
        name = self._backend_name
        sent = _history(conv)
        request = Request(messages=tuple(m for _id, m in sent), sampling=self.sampling)
        if conv.backend != name:
            self.store.set_backend(conversation_id, name)
        failed: Failed | None = None
        backend: Any = None
        model = None
        try:
            backend = self._create(name)
            model = backend.info.model or None
            request = dataclasses.replace(request, want_routing=backend.capabilities.routing_stats)
        except (PluginError, OptionError) as exc:
            failed = Failed(error=one_line(exc))
        if backend is not None:
            self._mark_window(conversation_id, backend, sent, request.sampling.max_tokens)
        message = self.store.add_message(conversation_id, "assistant", "", backend=name, model=model,
                                         status="streaming", **({} if parent_id is None else {"parent_id": parent_id}))
        self._reply = ReplyStream(
            host=self.host, backend=backend, backend_name=name, request=request, metrics=self.metrics,
            store=self.store, conversation_id=conversation_id, message_id=message.id, clock=self._clock,
            persist_interval_s=self._persist[0], persist_every_tokens=self._persist[1], failed=failed,
        )
        return self._reply

    def _mark_window(self, conversation_id: int, backend: Backend, sent: list, max_tokens: int) -> None:
        """Remember the first message the backend will still see (see :mod:`console.window`)."""
        from console.window import dropped_turns

        try:
            dropped = dropped_turns(backend, [m for _id, m in sent], max_tokens, _context_window(backend))
        except Exception:  # noqa: BLE001 - a marker must never stop a turn
            dropped = None
        turns = [i for i, (mid, m) in enumerate(sent) if mid is not None and m.role != "system"]
        if dropped and dropped < len(turns):
            self.window_starts[conversation_id] = (sent[turns[dropped]][0], dropped)
        else:
            self.window_starts.pop(conversation_id, None)

    def window_start(self) -> tuple[int, int] | None:
        """``(message id, turns dropped)``: where the current conversation's
        context window started at its last turn; None when everything fit
        (or the backend cannot say)."""
        return self.window_starts.get(self._conversation_id) if self._conversation_id is not None else None

    def cancel(self) -> bool:
        """Stop the in-flight reply and compare runs (partial kept, "cancelled").
        False when nothing was running."""
        stopped = self._reply.cancel() if self._reply is not None else False
        for run in list(self._compares):
            stopped = run.cancel() or stopped
        return stopped

    # ------------------------------------------------------------ shutdown

    async def aclose(self) -> None:
        """Cancel any reply, wait for it to be stored, close the backends."""
        self.cancel()
        pending = [r for r in [self._reply, *self._compares] if r is not None]
        for reply in pending:
            await reply.wait()
        for backend in self._backends.values():
            await self._close(backend)
        self._backends.clear()


__all__ = ["ChatSession", "CompareResult", "SessionBusy", "history"]

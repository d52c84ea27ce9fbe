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
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from console.api import Backend, Cost, Event, Failed, Message, OptionError, PluginError, Request, Sampling, Timing, Usage
from console.metrics import Metrics
from console.reply import ReplyStream, one_line
from console.settings import Settings
from console.store import DEFAULT_TITLE, ConversationRecord, Store

#: Length of a title made from the first user turn.
TITLE_CHARS = 48


class SessionBusy(RuntimeError):
    """A reply is streaming; cancel it (or wait) before starting another."""


@dataclass(frozen=True)
class CompareResult:
    """One backend's answer to a compared turn."""

    backend: str
    text: str
    status: str  # complete | cancelled | failed
    model: str = ""
    usage: Usage | None = None
    timing: Timing | None = None
    cost: Cost | None = None
    error: str | None = None


def history(conv: ConversationRecord, upto: int | None = None) -> list[Message]:
    """The request messages of ``conv`` (see the module doc), considering only
    messages before index ``upto``."""
    msgs = list(conv.messages[:upto] if upto is not None else conv.messages)
    out: list[Message] = [Message("system", conv.system_prompt)] if conv.system_prompt.strip() else []
    for i, m in enumerate(msgs):
        if m.role == "user":
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            if nxt is not None and nxt.role == "assistant" and nxt.status == "failed":
                continue
            out.append(Message("user", m.content))
        elif m.role == "assistant" and m.status in ("complete", "cancelled") and m.content.strip():
            out.append(Message("assistant", m.content))
        elif m.role == "system" and m.content.strip():
            out.append(Message("system", m.content))
    return out


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _context_window(backend: Backend) -> int | None:
    """``backend.context_window`` (part of the Backend contract) when it is a
    positive int; ``None`` when unknown or when the plugin's property fails."""
    try:
        value = backend.context_window
    except Exception:  # noqa: BLE001 - plugin code must not break the session
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class ChatSession:
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
        """The current conversation with its messages, fresh from the store
        (``None`` before the first)."""
        if self._conversation_id is None:
            return None
        return self.store.load(self._conversation_id)

    def conversations(self) -> list[ConversationRecord]:
        return self.store.list_conversations()

    def new_conversation(self, title: str | None = None) -> ConversationRecord:
        conv = self.store.new_conversation(title or DEFAULT_TITLE, self.settings.system_prompt,
                                           backend=self._backend_name)
        self._conversation_id = conv.id
        self.metrics.set_conversation(conv.id)
        return conv

    def select(self, conversation_id: int) -> ConversationRecord:
        """Make a stored conversation current (unknown id -> ``StoreError``)."""
        conv = self.store.load(conversation_id)
        self._conversation_id = conv.id
        self.metrics.set_conversation(conv.id, prior_cost_usd=conv.cost_usd)
        return conv

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
        if not isinstance(value, Sampling):
            raise TypeError("sampling must be a console.api.Sampling")
        self._sampling = value
        if self._conversation_id is not None:
            self.store.set_sampling(self._conversation_id, value)

    # ------------------------------------------------------------ backends

    @property
    def backend_name(self) -> str:
        return self._backend_name

    @property
    def backend(self) -> Backend:
        """The current backend instance (created on first use)."""
        return self._create(self._backend_name)

    def _create(self, name: str) -> Backend:
        """Instance of ``name`` with its ``[backends.<name>]`` options; bad options
        become problem lines and their defaults are used."""
        if name in self._backends:
            return self._backends[name]
        given = self.settings.options_for(name)
        entry = self.host.entry(name) if hasattr(self.host, "entry") else None
        if entry is not None:
            given, _ = self.settings.checked_options(name, entry.options)  # problems: option_problems()
        try:
            backend = self.host.create(name, **given)
        except OptionError as exc:
            self.problems.append(f"[backends.{name}] {one_line(exc)}; using the defaults")
            backend = self.host.create(name)
        self._backends[name] = backend
        self.metrics.describe(name, context_window=_context_window(backend), model=backend.info.model)
        return backend

    def option_problems(self, name: str) -> list[str]:
        """One line per refused key of ``[backends.<name>]`` (file:line:col, table,
        key, value, rule), or a line saying no backend has that name."""
        if not self.settings.options_for(name):
            return []
        try:
            entry = self.host.entry(name)
        except Exception as exc:  # noqa: BLE001 - PluginError: an unknown or broken backend
            return [f"[backends.{name}] ignored: {one_line(exc)}"]
        return self.settings.checked_options(name, entry.options)[1]

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
        self.store.add_message(conv.id, "user", text)
        return self._start(conv.id)

    def regenerate(self) -> ReplyStream:
        """Drop the last assistant reply (whatever its status) and stream a new
        one for the last user turn, on the current backend."""
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        conv = self.conversation
        if conv is None or not any(m.role == "user" for m in conv.messages):
            raise ValueError("nothing to regenerate: no user turn yet")
        last = conv.messages[-1]
        if last.role == "assistant":
            self.store.delete_message(last.id)
        return self._start(conv.id)

    def _start(self, conversation_id: int) -> ReplyStream:
        conv = self.store.load(conversation_id)
        name = self._backend_name
        request = Request(messages=tuple(history(conv)), sampling=self.sampling)
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
        message = self.store.add_message(conversation_id, "assistant", "", backend=name, model=model,
                                         status="streaming")
        self._reply = ReplyStream(
            host=self.host, backend=backend, backend_name=name, request=request, metrics=self.metrics,
            store=self.store, conversation_id=conversation_id, message_id=message.id, clock=self._clock,
            persist_interval_s=self._persist[0], persist_every_tokens=self._persist[1], failed=failed,
        )
        return self._reply

    def cancel(self) -> bool:
        """Stop the in-flight reply and compare runs (partial kept, "cancelled").
        False when nothing was running."""
        stopped = self._reply.cancel() if self._reply is not None else False
        for run in list(self._compares):
            stopped = run.cancel() or stopped
        return stopped

    # ------------------------------------------------------------ compare

    async def compare(
        self, text: str | None, backends: Iterable[str], *, concurrent: bool = False,
        on_event: Callable[[str, Event], None] | None = None,
    ) -> dict[str, CompareResult]:
        """Run one turn on several backends and return each one's answer.

        ``text`` None re-asks the current conversation's last user turn (with
        the history before it); otherwise ``text`` follows the conversation's
        history. Nothing is stored in the conversation; each run feeds its
        backend's metrics series. Sequential by default, so that measured
        backends do not share the CPU; ``concurrent=True`` runs them together.
        ``on_event(backend, event)`` sees every event as it arrives.
        """
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        conv = self.conversation
        if text is None:
            if conv is None or not any(m.role == "user" for m in conv.messages):
                raise ValueError("nothing to compare: no user turn yet")
            last_user = max(i for i, m in enumerate(conv.messages) if m.role == "user")
            messages = history(conv, upto=last_user) + [Message("user", conv.messages[last_user].content)]
        else:
            if not text.strip():
                raise ValueError("nothing to compare: the message is empty")
            base = history(conv) if conv is not None else (
                [Message("system", self.settings.system_prompt)] if self.settings.system_prompt.strip() else [])
            messages = base + [Message("user", text)]
        names = list(dict.fromkeys(backends))
        if not names:
            raise ValueError("compare needs at least one backend")

        async def run(name: str) -> CompareResult:
            try:
                backend = self._create(name)
            except (PluginError, OptionError) as exc:
                return CompareResult(name, "", "failed", error=one_line(exc))
            request = Request(messages=tuple(messages), sampling=self.sampling,
                              want_routing=backend.capabilities.routing_stats)
            stream = ReplyStream(
                host=self.host, backend=backend, backend_name=name, request=request, metrics=self.metrics,
                store=None, conversation_id=None, message_id=None, clock=self._clock,
                persist_interval_s=self._persist[0], persist_every_tokens=self._persist[1],
            )
            self._compares.add(stream)
            try:
                async for event in stream:
                    if on_event is not None:
                        on_event(name, event)
            finally:
                self._compares.discard(stream)
                await stream.aclose()
            return CompareResult(name, stream.text, stream.status, stream.model, stream.usage,
                                 stream.timing, stream.cost, stream.error)

        if concurrent:
            results = await asyncio.gather(*(run(n) for n in names))
        else:
            results = [await run(n) for n in names]
        return {r.backend: r for r in results}

    # ------------------------------------------------------------ shutdown

    async def aclose(self) -> None:
        """Cancel any reply, wait for it to be stored, close the backends."""
        self.cancel()
        pending = [r for r in [self._reply, *self._compares] if r is not None]
        for reply in pending:
            await reply.wait()
        for backend in self._backends.values():
            try:
                await backend.aclose()
            except Exception as exc:  # noqa: BLE001 - plugin code
                self.problems.append(f"backend {backend.info.name!r} failed to close: {one_line(exc)}")
        self._backends.clear()


__all__ = ["ChatSession", "CompareResult", "SessionBusy", "history"]

"""One streaming reply: consume a backend's events, account and persist them.

:class:`ReplyStream` is what :meth:`ChatSession.send` / ``regenerate`` return.
A producer task, started at once, reads ``host.stream(backend, request)`` (run on a
thread of its own by :mod:`console.stream_thread`, so a plugin that blocks cannot
freeze the console; ``warning`` then names it),
feeds every event to the metrics, saves the growing text (throttled) and the
final state to the store, and queues the event for the consumer. The consumer
iterates the stream (``async for event in stream``; ``await stream`` also
returns the stream itself, so ``async for e in await session.send(x)`` works).

The producer does not depend on the consumer: a reply nobody reads is still
streamed to the end and stored. Cancelling (``stream.cancel()``, the
session's ``cancel()``, ``aclose()`` before the end, or cancelling the task
that awaits the next event) cancels the producer; the backend's generator is
closed, the partial text is stored as ``"cancelled"`` and a synthesized
``Finished(reason="cancelled")`` (measured/modeled as the stream was) is the
stream's last event.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from console.api import Backend, Event, Failed, Finished, Request, Started, TextDelta, Timing, TokenTimer, Usage

if TYPE_CHECKING:
    from console.metrics import Metrics
    from console.store import MessageRecord, Store

_END = object()


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class ReplyStream:
    """The events of one reply, and its state (``text``, ``status``, ...).

    ``message_id`` is the stored assistant message (``None`` for a compare run,
    which is not stored). ``status``: ``"streaming"`` then ``"complete"``,
    ``"cancelled"`` or ``"failed"``.
    """

    def __init__(
        self, *, host: Any, backend: Backend, backend_name: str, request: Request, metrics: Metrics,
        store: Store | None, conversation_id: int | None, message_id: int | None,
        clock: Callable[[], float], persist_interval_s: float, persist_every_tokens: int,
        on_done: Callable[[ReplyStream], None] | None = None, failed: Failed | None = None,
    ) -> None:
        self.host, self.backend, self.backend_name = host, backend, backend_name
        self.request, self.metrics, self.store = request, metrics, store
        self.conversation_id, self.message_id = conversation_id, message_id
        self._clock = clock
        self._interval, self._every = persist_interval_s, persist_every_tokens
        self._on_done = on_done
        self.model = backend.info.model if backend is not None else ""
        self.status = "streaming"
        self.error: str | None = None
        self.warning: str | None = None  # set when the backend blocked its event loop
        self.usage: Usage | None = None
        self.timing: Timing | None = None
        self.cost = None
        self.clock_kind = "measured"
        self._parts: list[str] = []
        self._prompt_tokens = 0
        self._tokens = 0
        self._t0 = clock()
        self._timer = TokenTimer(start=self._t0, monotonic=clock)  # the reply's times, for a cancel
        self._last_persist, self._unsaved = self._t0, 0
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.done = asyncio.Event()
        if failed is not None:  # could not even start (e.g. the backend failed to construct)
            self.task: asyncio.Task[None] | None = None
            self._account(failed)
            self._queue.put_nowait(failed)
            self._finish()
        else:
            self.task = asyncio.get_running_loop().create_task(self._produce())
            self.task.add_done_callback(self._task_done)

    # ------------------------------------------------------------ consumer side

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def __aiter__(self) -> ReplyStream:
        return self

    def __await__(self):  # ``await session.send(x)`` gives the stream itself
        if False:  # pragma: no cover - makes this a generator
            yield
        return self

    async def __anext__(self) -> Event:
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            self.cancel()  # the consumer's task was cancelled (e.g. Esc): stop the reply too
            raise
        if item is _END:
            self._queue.put_nowait(_END)  # stay exhausted
            raise StopAsyncIteration
        return item

    def cancel(self) -> bool:
        """Stop the reply (partial text kept as ``"cancelled"``). False if already over."""
        if self.task is None or self.task.done():
            return False
        self.task.cancel()
        return True

    async def aclose(self) -> None:
        """Stop reading: cancels the reply if it is still running, and waits for it."""
        self.cancel()
        await self.done.wait()

    async def wait(self) -> ReplyStream:
        """Wait until the reply is over (without reading its events)."""
        await self.done.wait()
        return self

    def record(self) -> MessageRecord | None:
        """The stored assistant message (``None`` when not stored)."""
        if self.store is None or self.message_id is None:
            return None
        return self.store.message(self.message_id)

    # ------------------------------------------------------------ producer side

    async def _produce(self) -> None:
        from console.stream_thread import isolated_stream

        stream = isolated_stream(lambda: self.host.stream(self.backend, self.request), on_stall=self._stalled)
        try:
            async for event in stream:
                self._account(event)
                self._queue.put_nowait(event)
                if self.status != "streaming":
                    break
        finally:
            await stream.aclose()

    def _stalled(self, seconds: float) -> None:
        """The backend blocked its event loop (it runs on a thread of its own, so the console
        did not freeze): say so on the reply and on the plugin."""
        self.warning = (f"backend {self.backend_name!r} blocked its event loop for {seconds:.1f} s or more "
                        "(a blocking call inside its async stream); the console stayed responsive")
        report = getattr(self.host, "report_stall", None)
        if report is not None:
            report(self.backend, self.warning)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self.status == "streaming":
            if task.cancelled():
                event: Event = self._cancelled_event()
            else:
                exc = task.exception()
                error = one_line(exc) if exc is not None else "the stream ended without a final event"
                event = Failed(error=error, partial_text=self.text, usage=Usage(self._prompt_tokens, self._tokens))
            self._account(event)
            self._queue.put_nowait(event)
        self._finish()

    def _finish(self) -> None:
        self._queue.put_nowait(_END)
        self.done.set()
        if self._on_done is not None:
            self._on_done(self)

    def _cancelled_event(self) -> Finished:
        timer = self._timer
        timer.clock = self.clock_kind  # type: ignore[assignment]
        if self.clock_kind == "measured":
            timer.label = "measured"
            timing = timer.timing(timer.now())
        else:
            timer.label = self.metrics.snapshot(self.backend_name).labels.get("rate", "modeled")
            timing = timer.timing()
        usage = Usage(self._prompt_tokens, self._tokens)
        return Finished(reason="cancelled", usage=usage, timing=timing, cost=self._stopped_cost(usage),
                        at=timing.e2e_s, clock=self.clock_kind)  # type: ignore[arg-type]

    def _stopped_cost(self, usage: Usage):
        """What a stopped reply cost, at the backend's last known rates (the
        tokens were computed and paid for); ``None`` when no rate is known."""
        from console.api import Cost

        spend = self.metrics.snapshot(self.backend_name).spend
        if spend.usd_per_m_input is None or spend.usd_per_m_output is None:
            return None
        return Cost(input_usd=usage.prompt_tokens * spend.usd_per_m_input / 1e6,
                    output_usd=usage.completion_tokens * spend.usd_per_m_output / 1e6,
                    usd_per_m_input=spend.usd_per_m_input, usd_per_m_output=spend.usd_per_m_output,
                    price_usd_per_chip_hour=spend.price_usd_per_chip_hour or 0.0, price_date=spend.price_date,
                    label="stopped reply: estimated at the last known rates")

    def _account(self, event: Event) -> None:
        """Metrics, reply state and persistence for one event."""
        self.metrics.observe(event, backend=self.backend_name, conversation=self.conversation_id)
        if isinstance(event, TextDelta):
            self.clock_kind = event.clock
            self._parts.append(event.text)
            n = len(event.token_ids) or (1 if event.text else 0)
            if n:
                self._timer.tokens(n, event.at)
                self._tokens += n
                self._unsaved += n
            now = self._clock()
            if self._unsaved >= self._every or (self._unsaved and now - self._last_persist >= self._interval):
                self._save(content=self.text)
        elif isinstance(event, Started):
            self.clock_kind = event.clock
            self._prompt_tokens = event.prompt_tokens
            if event.model and event.model != self.model:
                self.model = event.model
                self._save(model=self.model)
        elif isinstance(event, Finished):
            self.status = "cancelled" if event.reason == "cancelled" else "complete"
            self.usage, self.timing, self.cost = event.usage, event.timing, event.cost
            self._save(content=self.text, status=self.status, usage=self.usage, timing=self.timing,
                       cost=self.cost, model=self.model or None, finish_reason=event.reason)
        elif isinstance(event, Failed):
            self.status, self.error = "failed", event.error
            if not self._parts and event.partial_text:
                self._parts.append(event.partial_text)
            self.usage = event.usage
            self._save(content=self.text, status="failed", error=self.error, usage=self.usage,
                       model=self.model or None)

    def _save(self, **changes: Any) -> None:
        self._last_persist, self._unsaved = self._clock(), 0
        if self.store is not None and self.message_id is not None:
            self.store.update_message(self.message_id, **changes)



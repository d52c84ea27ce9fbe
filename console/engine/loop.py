"""The batching generation loop: one thread steps every active sequence together.

Each iteration (1) drops cancelled requests, (2) prefills the newly submitted prompts in one
pass, (3) decodes one token for every other active sequence in ONE batched ``Model.decode``
call, and hands each request its :class:`Step`s through its :class:`Handle`. The same loop
serves the TUI, the CLI and the HTTP server.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import AsyncIterator, Iterator

from .errors import EngineError
from .generation import SequenceState, Step
from .model import Model
from .sampling import SamplingParams

_END = object()


class Handle:
    """One submitted request. Iterate (blocking, or ``async for``) to receive its Steps.

    ``cancel()`` asks the loop to stop it before its next step; ``finish_reason`` is ``"stop"``,
    ``"length"`` or ``"cancelled"`` once the iteration has ended. If the engine failed on this
    request, iterating raises that error after the Steps already produced.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.finish_reason: str | None = None
        self.error: BaseException | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the request has finished; returns False on timeout."""
        return self._done.wait(timeout)

    def _emit(self, step: Step) -> None:
        self._queue.put(step)

    def _finish(self, reason: str | None, error: BaseException | None = None) -> None:
        if self._done.is_set():
            return
        self.finish_reason, self.error = reason, error
        self._done.set()
        self._queue.put(_END)

    def _next(self):
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)       # keep later iterations finished too
        return item

    def __iter__(self) -> Iterator[Step]:
        while True:
            item = self._next()
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    async def __aiter__(self) -> AsyncIterator[Step]:
        loop = asyncio.get_running_loop()
        while True:
            item = await loop.run_in_executor(None, self._next)
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item


class GenerationLoop:
    """Serve many requests on one model from one background thread (started on creation)."""

    def __init__(self, model: Model, max_batch: int = 32) -> None:
        self.model = model
        self.max_batch = max(1, int(max_batch))
        self._pending: list[tuple[SequenceState, Handle]] = []
        self._cond = threading.Condition()
        self._closed = False
        self.steps = 0            # batched iterations run (for tests and metrics)
        self._thread = threading.Thread(target=self._run, name="engine-generation-loop", daemon=True)
        self._thread.start()

    def submit(self, token_ids, max_new_tokens: int, sampling: SamplingParams | None = None,
               routing: bool = False) -> Handle:
        """Queue a request; bad arguments raise EngineError here, in the caller's thread."""
        state = SequenceState(self.model, token_ids, max_new_tokens, sampling, routing)
        handle = Handle()
        with self._cond:
            if self._closed:
                raise EngineError("the generation loop is closed")
            if state.done:
                handle._finish(state.finish_reason)
            else:
                self._pending.append((state, handle))
                self._cond.notify()
        return handle

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the thread; unfinished requests end as cancelled."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> "GenerationLoop":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        active: list[tuple[SequenceState, Handle]] = []
        try:
            while True:
                with self._cond:
                    while not self._pending and not active and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        break
                    room = self.max_batch - len(active)
                    new, self._pending = self._pending[:room], self._pending[room:]
                active = self._drop_cancelled(active)
                new = self._drop_cancelled(new)
                if new:
                    self._guarded(new, self._prefill)
                if active:
                    self._guarded(active, self._decode)
                active = [(s, h) for s, h in active + new if not s.done]
                self.steps += 1
        finally:
            with self._cond:
                leftover, self._pending = self._pending, []
                self._closed = True
            for state, handle in active + leftover:
                self._end(state, handle, "cancelled")

    @staticmethod
    def _end(state: SequenceState, handle: Handle, reason: str) -> None:
        for step in state.finish(reason):
            handle._emit(step)
        handle._finish(state.finish_reason)

    def _drop_cancelled(self, group):
        kept = []
        for state, handle in group:
            if handle.cancelled:
                self._end(state, handle, "cancelled")
            else:
                kept.append((state, handle))
        return kept

    def _guarded(self, group, fn) -> None:
        try:
            fn(group)
        except Exception as exc:  # a failure ends these requests, never the loop
            for state, handle in group:
                state.finish_reason = state.finish_reason or "error"
                handle._finish("error", exc if isinstance(exc, EngineError) else EngineError(f"engine failure: {exc!r}"))

    def _deliver(self, group, logits, routing, prefill: bool) -> None:
        for row, (state, handle) in enumerate(group):
            for step in state.accept(logits[row], routing, row, prefill):
                handle._emit(step)
            if state.done:
                handle._finish(state.finish_reason)

    def _prefill(self, group) -> None:
        logits, routing = self.model.prefill([s.prompt for s, _ in group], [s.cache for s, _ in group])
        self._deliver(group, logits, routing, True)

    def _decode(self, group) -> None:
        logits, routing = self.model.decode([s.cache for s, _ in group], [s.last_token for s, _ in group])
        self._deliver(group, logits, routing, False)

"""The caller's side of one request submitted to the :class:`~console.engine.loop.GenerationLoop`.

The loop thread puts :class:`~console.engine.generation.Step`\\ s into the handle; the caller
reads them blocking (``for step in handle``), from asyncio (``async for step in handle``, or
``handle.batches()`` for every step ready at once), without a thread per reader: the loop
thread wakes an awaiting reader through ``call_soon_threadsafe``. A producer that fills many
handles at once (one step of a batch) can collect their wake-ups (``_put(item, defer=True)``)
and fire them with :func:`wake_all`: one thread hop per event loop instead of one per handle.

Timestamps (``time.monotonic()``, for metrics): ``submitted_at``; ``scheduled_at`` when its
first prompt chunk was prefilled; ``first_token_at``; ``finished_at``. ``cached_tokens`` is the
number of prompt tokens served from the prefix cache.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import AsyncIterator, Iterator

from .generation import Step

_END = object()


class Handle:
    """One submitted request. Iterate (blocking, or ``async for``) to receive its Steps.

    ``cancel()`` asks the loop to stop it before its next step (the loop frees its sequence
    there); ``finish_reason`` is ``"stop"``, ``"length"``, ``"cancelled"`` or ``"error"`` once
    the iteration has ended. If the engine failed on this request, iterating raises that error
    after the Steps already produced.
    """

    def __init__(self, prompt_tokens: int = 0) -> None:
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future] | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.finish_reason: str | None = None
        self.error: BaseException | None = None
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.submitted_at = time.monotonic()
        self.scheduled_at: float | None = None
        self.first_token_at: float | None = None
        self.finished_at: float | None = None

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

    # ----- the loop thread's side ------------------------------------------------------------
    def _put(self, item, defer: bool = False):
        """Queue ``item``; wake an awaiting reader now, or (``defer``) return its waiter (or
        None) for :func:`wake_all`."""
        with self._cond:
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
            self._cond.notify_all()
        if defer or waiter is None:
            return waiter
        wake_all([waiter], [self])
        return None

    def _emit(self, step: Step, defer: bool = False):
        self.completion_tokens += 1
        if self.first_token_at is None:
            self.first_token_at = step.at if step.at is not None else time.monotonic()
        return self._put(step, defer)

    def _finish(self, reason: str | None, error: BaseException | None = None, defer: bool = False,
                at: float | None = None):
        if self._done.is_set():
            return None
        self.finish_reason, self.error = reason, error
        self.finished_at = at if at is not None else time.monotonic()
        self._done.set()
        return self._put(_END, defer)

    # ----- the reader's side -----------------------------------------------------------------
    def _take(self, block: bool, most: int | None = None) -> list:
        """Up to ``most`` items ready (``_END`` stays queued so later reads end too)."""
        with self._cond:
            while block and not self._items:
                self._cond.wait()
            out = []
            while self._items and (most is None or len(out) < most):
                item = self._items[0]
                if item is _END:
                    out.append(item)
                    break
                out.append(self._items.popleft())
            return out

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def __iter__(self) -> Iterator[Step]:
        while True:
            for item in self._take(block=True, most=1):    # one at a time: nothing is lost
                if item is _END:                              # when an iterator is abandoned
                    self._raise_if_failed()
                    return
                yield item

    async def batches(self) -> AsyncIterator[list[Step]]:
        """Async iterator of lists of Steps: every step ready when the reader wakes."""
        loop = asyncio.get_running_loop()
        while True:
            items = self._take(block=False)
            if not items:
                woken = loop.create_future()
                with self._cond:
                    waiting = not self._items
                    if waiting:
                        self._waiter = (loop, woken)
                if waiting:
                    await woken
                continue
            ended = items[-1] is _END
            steps = items[:-1] if ended else items
            if steps:
                yield steps
            if ended:
                self._raise_if_failed()
                return

    async def __aiter__(self) -> AsyncIterator[Step]:
        async for steps in self.batches():
            for step in steps:
                yield step


def wake_all(waiters: list, handles: list[Handle]) -> None:
    """Resolve the ``(event loop, future)`` waiters that ``_put(..., defer=True)`` returned
    (``handles[i]`` owns ``waiters[i]``; None entries are skipped): one ``call_soon_threadsafe``
    per event loop. A reader whose event loop is gone is cancelled (nobody reads any more)."""
    by_loop: dict = {}
    for waiter, handle in zip(waiters, handles):
        if waiter is not None:
            by_loop.setdefault(waiter[0], []).append((waiter[1], handle))
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, [future for future, _ in pairs])
        except RuntimeError:
            for _, handle in pairs:
                handle.cancel()


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)

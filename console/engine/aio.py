"""Async adapter over the engine's blocking generation.

The engine produces tokens on threads (``GenerationLoop``'s loop thread, or
whoever iterates ``Model.stream``); a console runs an asyncio event loop. This
module bridges the two without blocking the event loop:

* :class:`AsyncSteps` reads a blocking iterable of ``Step`` objects on a daemon
  reader thread and hands them to the event loop as :class:`TimedStep`\\ s. The
  timestamp is ``time.monotonic()`` read on the reader thread the moment the
  engine hands the step over (no event-loop latency in it), unless the step
  carries its own monotonic production time (``Step.at``), which is preferred.
* ``aclose()`` (or leaving ``async with``) cancels the engine side (the handle's
  ``cancel()`` or the ``should_stop`` flag) so it stops between tokens, then
  waits (bounded) for the reader thread to finish: when ``aclose`` returns, the
  engine no longer holds the sequence.
* :func:`shared_engine` keeps one ``(Model, GenerationLoop)`` per checkpoint for
  the whole process, so the ``local`` backend and the modeled backends share the
  loaded weights and the batching loop.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

#: Seconds ``aclose`` waits for the engine to let go of a cancelled sequence.
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TimedStep:
    """An engine ``Step`` and the ``time.monotonic()`` at which it was produced."""

    step: Any
    at: float


class _End:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class AsyncSteps:
    """Async iterator of :class:`TimedStep` over a blocking iterable of steps.

    ``cancel`` is called on ``aclose()`` and must make the blocking iteration
    end promptly. Exceptions raised by the iteration are re-raised by
    ``__anext__`` in the consumer. Use it as ``async with AsyncSteps(...) as s:
    async for ts in s: ...`` or call ``aclose()`` in a ``finally``.
    """

    def __init__(self, source: Iterable[Any], cancel: Callable[[], None]) -> None:
        self._source = source
        self._cancel = cancel
        self._queue: asyncio.Queue[TimedStep | _End] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._done = False

    def __aiter__(self) -> AsyncSteps:
        return self

    async def __aenter__(self) -> AsyncSteps:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._thread = threading.Thread(target=self._pump, name="moe-console-steps", daemon=True)
        self._thread.start()

    def _post(self, item: TimedStep | _End) -> bool:
        assert self._loop is not None and self._queue is not None
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
            return True
        except RuntimeError:  # the event loop is closed: nobody is listening
            self._cancel()
            return False

    def _pump(self) -> None:
        error: BaseException | None = None
        try:
            for step in self._source:
                if self._closing.is_set():
                    continue  # cancelled: drain until the engine stops (next token)
                produced = getattr(step, "at", None)
                at = produced if isinstance(produced, float) else time.monotonic()
                if not self._post(TimedStep(step, at)):
                    self._closing.set()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            error = exc
        finally:
            close = getattr(self._source, "close", None)  # Model.stream's StepStream
            if callable(close):
                close()
        self._post(_End(error))

    async def __anext__(self) -> TimedStep:
        if self._done:
            raise StopAsyncIteration
        if self._thread is None:
            self._start()
        assert self._queue is not None
        item = await self._queue.get()
        if isinstance(item, _End):
            self._done = True
            if item.error is not None:
                raise item.error
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        """Stop the engine side and wait until it has let go (bounded)."""
        self._done = True
        self._closing.set()
        self._cancel()
        thread = self._thread
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, CLOSE_TIMEOUT_S)


def steps_of_handle(handle: Any) -> AsyncSteps:
    """Async steps of a ``GenerationLoop`` handle (iterable, with ``cancel()``)."""
    return AsyncSteps(handle, handle.cancel)


def steps_of_model(
    model: Any,
    token_ids: list[int],
    max_new_tokens: int,
    sampling: Any = None,
    *,
    routing: bool = False,
) -> AsyncSteps:
    """Async steps of ``Model.stream`` run on its own thread (no batching)."""
    stop = threading.Event()
    steps = model.stream(
        token_ids, max_new_tokens, sampling, routing=routing, should_stop=stop.is_set
    )
    return AsyncSteps(steps, stop.set)


@dataclass(frozen=True)
class SharedEngine:
    """A loaded model and the process-wide generation loop serving it."""

    model: Any
    loop: Any


_ENGINES: dict[str, SharedEngine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(path: str | os.PathLike[str] | None = None) -> SharedEngine:
    """The process-wide engine for checkpoint ``path`` (``None``: the built-in
    model), loading it on first use. Blocking (loads weights): call it with
    ``asyncio.to_thread`` from async code. Raises ``EngineError`` for a bad
    checkpoint."""
    from console.engine import GenerationLoop, load_model

    key = "<builtin>" if path is None else str(Path(path).expanduser().resolve())
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            model = load_model(None if path is None else Path(key))
            _finish_loading(model)
            engine = SharedEngine(model, GenerationLoop(model))
            _ENGINES[key] = engine
    return engine


def _finish_loading(model: Any) -> None:
    """Do now the one-time work the first request would otherwise do inside its timed
    prefill (its time to first token, and so the local backend's measured cost per
    million input tokens, came out ~20x later ones'): prepare every layer and the head
    (``prepare``), and import numpy's random module, which the first sampler's RNG loads."""
    model.prepare()
    import numpy.random  # noqa: F401


@atexit.register
def close_shared_engines() -> None:
    """Stop every shared generation loop (also run at interpreter exit)."""
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.loop.close()

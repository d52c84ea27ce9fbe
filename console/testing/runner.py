"""Running a backend for the checks: collect a reply, cancel one mid-stream.

``CANCEL_BOUND_S``: a backend must stop within this long after a cancel (the
console's Esc); ``collect`` records when each event arrived so that measured
clocks can be checked against the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

from console.api import Backend, Failed, Finished, Request, TextDelta
from console.testing.checks import ConformanceError, check_events

#: Seconds within which a stream must end after ``aclose()`` or a task cancel.
CANCEL_BOUND_S = 1.0


async def collect(stream: AsyncIterator[Any], timeout_s: float = 60.0,
                  arrivals: list[float] | None = None) -> list[Any]:
    """Every event of ``stream``, failing after ``timeout_s`` seconds. When
    ``arrivals`` is given, the ``time.monotonic()`` of each event's arrival is appended to it."""
    events: list[Any] = []

    async def drain() -> None:
        async for event in stream:
            events.append(event)
            if arrivals is not None:
                arrivals.append(time.monotonic())

    try:
        await asyncio.wait_for(drain(), timeout_s)
    except TimeoutError:
        raise ConformanceError(f"stream did not finish within {timeout_s} s") from None
    return events


async def check_reply(backend: Backend, request: Request, timeout_s: float = 60.0) -> list[Any]:
    """Stream ``request`` and check the events (a measured one against the wall clock); returns them."""
    arrivals: list[float] = []
    start = time.monotonic()
    events = await collect(backend.stream(request), timeout_s, arrivals)
    check_events(events, backend=backend, request=request, arrivals=arrivals, start=start)
    return events


async def _first_delta(stream: AsyncIterator[Any], name: str) -> None:
    async for event in stream:
        if isinstance(event, TextDelta) and event.text:
            return
        if isinstance(event, (Finished, Failed)):
            raise ConformanceError(f"{name}: reply ended before any text; cannot test cancellation")
    raise ConformanceError(f"{name}: stream ended without text or a final event")


async def check_aclose_stops(backend: Backend, request: Request, timeout_s: float = CANCEL_BOUND_S,
                             first_text_s: float = 60.0) -> None:
    """After the first text, ``aclose()`` on the stream returns within ``timeout_s``."""
    name = backend.info.name
    stream = backend.stream(request)
    await asyncio.wait_for(_first_delta(stream, name), first_text_s)
    try:
        await asyncio.wait_for(stream.aclose(), timeout_s)
    except TimeoutError:
        raise ConformanceError(f"{name}: aclose() did not return within {timeout_s} s") from None


async def check_task_cancel_stops(backend: Backend, request: Request, timeout_s: float = CANCEL_BOUND_S,
                                  first_text_s: float = 60.0) -> None:
    """Cancelling the task that consumes the stream ends it within ``timeout_s``
    with ``CancelledError`` (the backend must not swallow the cancellation)."""
    name = backend.info.name
    got_text = asyncio.Event()
    finished = False

    async def consume() -> None:
        nonlocal finished
        async for event in backend.stream(request):
            if isinstance(event, TextDelta) and event.text:
                got_text.set()
        finished = True

    task = asyncio.create_task(consume())
    waiter = asyncio.create_task(got_text.wait())
    await asyncio.wait({task, waiter}, timeout=first_text_s, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
        raise ConformanceError(f"{name}: reply finished before it could be cancelled; ask for more tokens")
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        raise ConformanceError(f"{name}: cancelled stream still running after {timeout_s} s")
    if finished:
        raise ConformanceError(f"{name}: the stream swallowed the cancellation and finished normally")
    if not task.cancelled():
        exc = task.exception()
        raise ConformanceError(f"{name}: cancelling the consumer ended with {exc!r}, not CancelledError")

"""Running a backend for the checks: collect a reply, cancel one mid-stream."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from console.api import Backend, Failed, Finished, Request, TextDelta
from console.testing.checks import ConformanceError, check_events


async def collect(stream: AsyncIterator[Any], timeout_s: float = 60.0) -> list[Any]:
    """Every event of ``stream``, failing after ``timeout_s`` seconds."""
    events: list[Any] = []

    async def drain() -> None:
        async for event in stream:
            events.append(event)

    try:
        await asyncio.wait_for(drain(), timeout_s)
    except TimeoutError:
        raise ConformanceError(f"stream did not finish within {timeout_s} s") from None
    return events


async def check_reply(backend: Backend, request: Request, timeout_s: float = 60.0) -> list[Any]:
    """Stream ``request`` and check the events; returns them."""
    events = await collect(backend.stream(request), timeout_s)
    check_events(events, backend=backend, request=request)
    return events


async def _first_delta(stream: AsyncIterator[Any], name: str) -> None:
    async for event in stream:
        if isinstance(event, TextDelta) and event.text:
            return
        if isinstance(event, (Finished, Failed)):
            raise ConformanceError(f"{name}: reply ended before any text; cannot test cancellation")
    raise ConformanceError(f"{name}: stream ended without text or a final event")


async def check_aclose_stops(backend: Backend, request: Request, timeout_s: float = 10.0) -> None:
    """After the first text, ``aclose()`` on the stream returns within ``timeout_s``."""
    name = backend.info.name
    stream = backend.stream(request)
    await asyncio.wait_for(_first_delta(stream, name), timeout_s * 6)
    try:
        await asyncio.wait_for(stream.aclose(), timeout_s)
    except TimeoutError:
        raise ConformanceError(f"{name}: aclose() did not return within {timeout_s} s") from None


async def check_task_cancel_stops(backend: Backend, request: Request, timeout_s: float = 10.0) -> None:
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
    await asyncio.wait({task, waiter}, timeout=timeout_s * 6, return_when=asyncio.FIRST_COMPLETED)
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

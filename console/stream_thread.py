"""Run a backend's event stream on a thread of its own, so that no plugin can stall the console.

A backend's ``stream`` is an async generator, and a plugin may get it wrong: ``time.sleep`` or
blocking I/O inside it would freeze whatever event loop runs it — with Textual, the whole screen,
Esc included. :func:`isolated_stream` therefore runs the stream on a private event loop in a
daemon thread and hands each event to the caller's loop as it comes.

Contracts:

* events arrive in order, each as soon as the worker yields it; an exception raised by the
  stream is re-raised in the caller;
* cancelling the caller (or closing the iterator) cancels the stream on the worker's loop and
  waits for it to close (its ``finally`` runs there) for at most :data:`CLOSE_WAIT_S`; a plugin
  that does not let go by then is abandoned to its daemon thread, so Esc always works;
* a worker loop that has not run for :data:`STALL_REPORT_S` while the stream is open is a
  plugin blocking its event loop: ``on_stall(seconds)`` is called the first time that happens
  (once per stream), while the stall is still going on, with how long it has lasted so far.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, AsyncIterator, Callable

#: A worker loop silent for this long is reported as blocked by the plugin.
STALL_REPORT_S = 0.25
#: How long a cancelled stream may take to close before it is abandoned.
CLOSE_WAIT_S = 1.0
#: How often the worker loop proves it is alive.
HEARTBEAT_S = 0.02

_DONE = object()


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Worker(threading.Thread):
    """Iterates ``make_stream()`` on its own event loop; ``deliver`` gets each item."""

    def __init__(self, make_stream: Callable[[], AsyncIterator[Any]], deliver: Callable[[Any], None]) -> None:
        super().__init__(name="backend-stream", daemon=True)
        self._make_stream, self._deliver = make_stream, deliver
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_requested = False
        self._lock = threading.Lock()
        self.last_beat = time.monotonic()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            if self._stop_requested:
                return
        beat = asyncio.get_running_loop().create_task(self._heartbeat())
        stream = None
        try:
            stream = self._make_stream()
            async for item in stream:
                self._deliver(item)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            self._deliver(_Raised(exc))
        finally:
            beat.cancel()
            if stream is not None and hasattr(stream, "aclose"):
                try:
                    await stream.aclose()
                except BaseException:  # noqa: BLE001 - closing after a cancel or failure
                    pass
            self._deliver(_DONE)

    async def _heartbeat(self) -> None:
        while True:
            self.last_beat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_S)

    def stop(self) -> None:
        """Ask the worker's loop to cancel the stream; returns at once."""
        with self._lock:
            self._stop_requested = True
            loop, task = self._loop, self._task
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the worker's loop has already closed
                pass


async def isolated_stream(
    make_stream: Callable[[], AsyncIterator[Any]],
    *,
    on_stall: Callable[[float], None] | None = None,
) -> AsyncIterator[Any]:
    """The items of ``make_stream()``, produced on a worker thread (see the module doc)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def deliver(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the caller's loop is gone: nobody is listening any more
            pass

    worker = _Worker(make_stream, deliver)
    worker.start()
    watchdog = loop.create_task(_watch(worker, on_stall)) if on_stall is not None else None
    finished = False
    try:
        while True:
            item = await queue.get()  # no extra task in between: events keep their order
            if item is _DONE:
                finished = True
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if not finished:
            worker.stop()
            try:
                await asyncio.wait_for(_until_done(queue), CLOSE_WAIT_S)
            except asyncio.TimeoutError:
                pass  # the plugin holds on: leave it its daemon thread


async def _until_done(queue: asyncio.Queue[Any]) -> None:
    while await queue.get() is not _DONE:
        pass


async def _watch(worker: _Worker, on_stall: Callable[[float], None]) -> None:
    """Call ``on_stall`` the first time the worker's loop is silent for ``STALL_REPORT_S``."""
    while True:
        await asyncio.sleep(STALL_REPORT_S / 2)
        silent = time.monotonic() - worker.last_beat
        if silent >= STALL_REPORT_S and worker.is_alive():
            on_stall(silent)
            return

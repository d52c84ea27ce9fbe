"""Helpers of the TUI tests (a module of its own, so test files import it by a
name no other test directory uses)."""

from __future__ import annotations

import asyncio
import time

from console.api import Sampling

#: A prompt and sampling for a reply that streams until ``max_tokens``; pass
#: the ``long_options`` fixture as ``backend_options`` to ``make_app`` so the
#: real engine streams at full speed for long enough to act during it.
LONG_PROMPT = "Tell me everything you know."
LONG_SAMPLING = Sampling(max_tokens=600, temperature=0.0)


class FakeClock:
    """An injected clock that advances only when told (deterministic snapshots)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: A guard against a hang, not a deadline: every wait below ends on an event
#: (a reply's ``done``, a worker's end) or a condition, long before this.
HANG_GUARD_S = 60.0


async def wait_for(pilot, predicate, timeout: float = HANG_GUARD_S, step: float = 0.02) -> None:
    """Let the app run until ``predicate()`` is true (fails after ``timeout`` s).

    Polls with a plain sleep: ``pilot.pause`` first waits for the screen to
    go idle, which during a stream can take longer than the stream itself."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await asyncio.sleep(step)


async def wait_reply(app, timeout: float = HANG_GUARD_S) -> None:
    """Wait on the events of the reply in flight: the session's stream is
    ``done`` and the chat's worker has drawn its end."""
    stream = getattr(app.session, "_reply", None)
    if stream is not None:
        await asyncio.wait_for(stream.done.wait(), timeout)
    worker = app.chat._reply
    if worker is not None:
        try:
            await asyncio.wait_for(worker.wait(), timeout)
        except Exception:  # noqa: BLE001 - a cancelled or failed worker has ended too
            pass


async def wait_idle(pilot, app, timeout: float = HANG_GUARD_S) -> None:
    """Wait until no reply streams and the reply worker has drawn its end."""
    chat = app.chat
    await wait_reply(app, timeout)
    await wait_for(pilot, lambda: not app.session.busy and (chat._reply is None or chat._reply.is_finished),
                   timeout)
    await pilot.pause()


def message_views(app):
    from console.tui.widgets.message import MessageView

    return list(app.chat.query("#thread MessageView").results(MessageView))


class Terminal:
    """Bytes typed into a terminal, read by Textual's real Linux driver input
    thread (its UTF-8 decoder and ``XTermParser``) and handed to the app the
    way the real driver hands them: ``Driver.process_message`` from that
    thread. Only the file descriptor is a pipe instead of a tty.

    ``Terminal(app).start()`` may run before the app is up (type-ahead): the
    events wait until the app has its driver."""

    def __init__(self, app) -> None:
        import os

        from textual.drivers.linux_driver import LinuxDriver

        self.app = app
        self._read, self._write = os.pipe()
        self._driver = LinuxDriver(app)
        self._driver.fileno = self._read
        self._driver.process_message = self._hand_over
        self._thread = None

    def _hand_over(self, message) -> None:
        while self.app._driver is None:  # type-ahead: the app is not running yet
            time.sleep(0.001)
        self.app._driver.process_message(message)

    def start(self) -> Terminal:
        import threading

        self._thread = threading.Thread(target=self._driver.run_input_thread, daemon=True)
        self._thread.start()
        return self

    def type(self, data: bytes) -> None:
        import os

        os.write(self._write, data)

    async def close(self) -> None:
        """Read what is left, stop the thread, close the pipe."""
        import os

        await asyncio.sleep(0.15)  # the thread reads in 0.1 s select rounds
        self._driver.exit_event.set()
        await asyncio.to_thread(self._thread.join)
        os.close(self._read)
        os.close(self._write)

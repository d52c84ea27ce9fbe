"""Checks of how a backend behaves while it streams, beyond the shape of its events.

* :func:`check_loop_not_blocked`: the event loop keeps ticking while the
  backend streams (a plugin that calls blocking code in ``stream`` freezes the
  whole console);
* :func:`check_concurrent_streams`: two requests stream at once on one instance;
* :func:`check_max_tokens` and :func:`check_stop_string`: the request's limits
  are honoured;
* :func:`check_option_bounds`: the declared types, bounds and choices of the
  options are enforced when the backend is constructed.

Each raises :class:`~console.testing.ConformanceError` with one line.
"""

from __future__ import annotations

import asyncio
import gc
import dataclasses
import time
from typing import Any, Callable

from console.api import Backend, Finished, Option, OptionError, Request, TextDelta
from console.testing.checks import ConformanceError
from console.testing.runner import check_reply

#: Longest acceptable event-loop stall while a backend streams.
STALL_BOUND_S = 0.010
#: Stalls past the bound in one stream that mean blocking code, not a hiccup.
REPEATED_STALLS = 3
#: One stall this long fails at once (e.g. a blocking load inside ``stream``).
GROSS_STALL_S = 0.100
_TICK_S = 0.001


class LoopStalls:
    """Measures how late a 1 ms ticker on the running loop wakes up (``async with``).

    ``stalls`` are the delays past each tick; the one still running when the
    block ends is counted too (a stream that never yields to the loop is one
    long stall)."""

    def __init__(self) -> None:
        self.stalls: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._since = 0.0

    async def _tick(self) -> None:
        while True:
            self._since = time.monotonic()
            await asyncio.sleep(_TICK_S)
            self.stalls.append(max(time.monotonic() - self._since - _TICK_S, 0.0))

    async def __aenter__(self) -> LoopStalls:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self.stalls.append(max(time.monotonic() - self._since - _TICK_S, 0.0))
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def stalled(self, bound_s: float) -> float:
        """Seconds spent in stalls longer than ``bound_s``."""
        return sum(s for s in self.stalls if s > bound_s)


async def check_loop_not_blocked(backend: Backend, request: Request, *, bound_s: float = STALL_BOUND_S,
                                 timeout_s: float = 60.0) -> list[Any]:
    """Stream ``request`` while timing the event loop; fail when the loop stalls past
    ``bound_s`` again and again (:data:`REPEATED_STALLS` times or more) or once for longer than
    :data:`GROSS_STALL_S`, in two runs. Blocking code in ``stream`` stalls on every token, or
    once for long; a busy machine's scheduler hiccup stalls once, briefly, and is not the
    backend's. The garbage collector is paused while measuring (its pauses are nobody's
    stream). Stream once before (the kit's other checks do) so that one-time warm-up work is
    not measured."""
    for attempt in range(2):
        collecting = gc.isenabled()
        gc.disable()
        try:
            async with LoopStalls() as stalls:
                events = await check_reply(backend, request, timeout_s)
        finally:
            if collecting:
                gc.enable()
        long = [s for s in stalls.stalls if s > bound_s]
        if len(long) < REPEATED_STALLS and max(stalls.stalls, default=0.0) <= GROSS_STALL_S:
            return events
    raise ConformanceError(
        f"{backend.info.name}: the event loop stalled {len(long)} times "
        f"for up to {1000 * max(stalls.stalls):.0f} ms while streaming (bound {1000 * bound_s:.0f} ms): "
        "stream() runs blocking code; move it to a thread (asyncio.to_thread)")


async def check_concurrent_streams(backend: Backend, first: Request, second: Request,
                                   timeout_s: float = 60.0) -> tuple[list[Any], list[Any]]:
    """Both requests stream at the same time on one instance and each reply obeys the contract."""
    a, b = await asyncio.gather(check_reply(backend, first, timeout_s), check_reply(backend, second, timeout_s),
                                return_exceptions=True)
    for got in (a, b):
        if isinstance(got, BaseException):
            raise ConformanceError(f"{backend.info.name}: with two requests streaming at once on one instance: "
                                   f"{got}") from None
    return a, b  # type: ignore[return-value]


def _text(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def _with(request: Request, **sampling: Any) -> Request:
    return dataclasses.replace(request, sampling=dataclasses.replace(request.sampling, **sampling),
                               request_id=request.request_id + "-x")


async def check_max_tokens(backend: Backend, request: Request, limit: int = 2, timeout_s: float = 60.0) -> None:
    """With ``max_tokens=limit`` a reply that would be longer stops at ``limit`` tokens with reason ``length``."""
    name = backend.info.name
    full = await check_reply(backend, request, timeout_s)
    short = await check_reply(backend, _with(request, max_tokens=limit), timeout_s)
    done = short[-1]
    if not isinstance(full[-1], Finished) or full[-1].usage.completion_tokens <= limit:
        raise ConformanceError(f"{name}: the reply to the test prompt has at most {limit} tokens; "
                               "cannot test max_tokens (ask for more tokens)")
    if not isinstance(done, Finished) or done.usage.completion_tokens != limit or done.reason != "length":
        got = f"{done.usage.completion_tokens} tokens, reason {getattr(done, 'reason', 'failed')!r}"
        raise ConformanceError(f"{name}: with max_tokens={limit} the reply had {got}; expected {limit}, 'length'")


def pick_stop(text: str, after: int) -> str | None:
    """A two-character stop string, not starting with a space, that first occurs
    in ``text`` at or after ``after``."""
    for i in range(max(after, 1), len(text) - 1):
        stop = text[i:i + 2]
        if stop[0].strip() and text.find(stop) == i:
            return stop
    return None


async def check_stop_string(backend: Backend, request: Request, timeout_s: float = 60.0) -> str:
    """A stop string taken from the reply's own text ends a rerun of the same
    (greedy, seeded) request before it: the text is a prefix of the first reply
    that does not contain the stop string, and the reason is ``stop``. Returns the stop string."""
    name = backend.info.name
    first = await check_reply(backend, request, timeout_s)
    text = _text(first)
    deltas = [e for e in first if isinstance(e, TextDelta) and e.text]
    stop = pick_stop(text, len(deltas[0].text) if deltas else 0)
    if stop is None:
        raise ConformanceError(f"{name}: the reply {text!r} is too short to test stop strings (ask for more tokens)")
    second = await check_reply(backend, _with(request, stop=(stop,)), timeout_s)
    got, done = _text(second), second[-1]
    if stop in got or not text.startswith(got) or len(got) > text.find(stop):
        raise ConformanceError(f"{name}: with stop={stop!r} the reply was {got!r}; the same request without it "
                               f"gave {text!r}, so the text must end before {stop!r}")
    if not isinstance(done, Finished) or done.reason != "stop":
        raise ConformanceError(f"{name}: a reply cut by a stop string must finish with reason 'stop', "
                               f"got {getattr(done, 'reason', done)!r}")
    return stop


def _bad_values(option: Option) -> list[tuple[Any, str]]:
    bad: list[tuple[Any, str]] = []
    if option.type in ("int", "float"):
        bad.append(("not-a-number", "a value of the wrong type"))
        if option.minimum is not None:
            bad.append((option.minimum - 1, f"a value below the minimum {option.minimum}"))
        if option.maximum is not None:
            bad.append((option.maximum + 1, f"a value above the maximum {option.maximum}"))
    elif option.type == "bool":
        bad.append(("maybe", "a value that is not a boolean"))
    if option.choices:
        bad.append(("__not_one_of_the_choices__", f"a value outside the choices {option.choices}"))
    return bad


def check_option_bounds(make: Callable[..., Backend], options: tuple[Option, ...], base: dict[str, Any],
                        backend: str) -> None:
    """``make(**base, name=bad)`` raises ``OptionError`` for each declared type,
    bound and choice (``Backend.__init__`` does it; a backend that overrides
    ``__init__`` must call it)."""
    for option in options:
        for value, what in _bad_values(option):
            try:
                made = make(**{**base, option.name: value})
            except OptionError:
                continue
            got = getattr(made, "settings", {}).get(option.name, value)
            raise ConformanceError(f"{backend}: option {option.name!r} accepted {what} ({value!r}, kept as "
                                   f"{got!r}); call Backend.__init__ (super().__init__(**options)) to validate")

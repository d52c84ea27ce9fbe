"""Timing of one reply, accumulated as its tokens arrive.

Every backend needs the same bookkeeping: the time to the first token, the
gaps between tokens, the decode time, the end-to-end time. A backend makes one
:class:`TokenTimer` per reply and calls :meth:`TokenTimer.token` for each token
(or :meth:`TokenTimer.tokens` for several that arrived together); at the end
:meth:`TokenTimer.timing` gives a :class:`~console.api.events.Timing` that the
conformance kit accepts: ``decode_s`` is the sum of the gaps, one gap per token
after the first, ``ttft_s + decode_s <= e2e_s``.

Times are seconds since the request was accepted, on the timer's clock:

* ``clock="measured"``: :meth:`TokenTimer.now` reads ``time.monotonic()``
  (or the ``monotonic`` function given) relative to the start; call it where
  the token is produced or received, never where it is drawn;
* ``clock="modeled"``: pass the modeled time of each token yourself.

Standard library only.
"""

from __future__ import annotations

import time
from typing import Callable

from console.api.events import Clock, Timing


class TokenTimer:
    """Accumulates token arrival times into a :class:`Timing` (see the module doc).

    ``start`` is the ``monotonic()`` value at which the request was accepted
    (default: now). ``label`` names where the figures come from
    (``"measured (numpy engine on this machine)"``, ``"modeled (...)"``).
    """

    def __init__(self, *, clock: Clock = "measured", label: str = "measured", start: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.clock, self.label = clock, label
        self._monotonic = monotonic
        self.start = monotonic() if start is None else start
        self.count = 0
        self.first_at: float | None = None
        self.last_at = 0.0
        self._gaps: list[float] = []

    def now(self) -> float:
        """Seconds since ``start`` on the monotonic clock (measured timers)."""
        return self._monotonic() - self.start

    def since_start(self, monotonic_time: float) -> float:
        """A ``monotonic()`` reading taken elsewhere (e.g. on an engine thread), as seconds since start."""
        return monotonic_time - self.start

    def token(self, at: float | None = None) -> float:
        """One token arrived ``at`` seconds after the start (default: :meth:`now`).
        Returns ``at``, for the event that carries the token."""
        return self.tokens(1, at)

    def tokens(self, n: int, at: float | None = None) -> float:
        """``n`` tokens arrived together ``at`` seconds after the start. The time
        since the previous token is shared evenly among them; tokens that came
        with the first one have a gap of 0. Times never go backwards: an ``at``
        earlier than the last one counts as the last one."""
        at = self.now() if at is None else float(at)
        if n <= 0:
            return at
        at = max(at, self.last_at)
        if self.first_at is None:
            self.first_at = at
            self._gaps.extend([0.0] * (n - 1))
        else:
            gap = at - self.last_at
            self._gaps.extend([gap / n] * n)
        self.last_at = at
        self.count += n
        return at

    @property
    def gaps(self) -> tuple[float, ...]:
        """The inter-token gaps so far."""
        return tuple(self._gaps)

    def timing(self, end: float | None = None, *, queue_s: float = 0.0) -> Timing:
        """The reply's :class:`Timing`; ``end`` is when it ended (default: now for a
        measured timer, the last token for a modeled one). ``queue_s`` is the part
        of the time to first token spent waiting; the rest is prefill. With no
        token the time to first token is the whole reply."""
        if end is None:
            end = self.now() if self.clock == "measured" else self.last_at
        e2e = max(end, self.last_at, 0.0)
        ttft = self.first_at if self.first_at is not None else e2e
        gaps = tuple(self._gaps)
        decode = max(self.last_at - ttft, 0.0) if self.first_at is not None else 0.0
        if gaps:
            decode = sum(gaps)
        queue = min(max(queue_s, 0.0), ttft)
        return Timing(ttft_s=ttft, e2e_s=max(e2e, ttft + decode), inter_token_s=gaps, queue_s=queue,
                      prefill_s=ttft - queue, decode_s=decode, clock=self.clock, label=self.label)

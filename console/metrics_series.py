"""One backend's rolling figures: the state behind :class:`console.metrics.Metrics`.

Every update is O(1) amortised (bounded deques, running sums); the snapshot
side sorts at most ``itl_window`` gaps. Times are the events' ``at`` (seconds
since the request was accepted, on the event's clock). See
:mod:`console.metrics` for the definitions of each figure.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Sequence

from console.api import Cost, Failed, Finished, RoutingStats, Started, TextDelta, Timing, TokenTimer


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of already-sorted values by linear
    interpolation between closest ranks (numpy's default method); ``None``
    when empty."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _tokens(delta: TextDelta) -> int:
    """Tokens a delta stands for: its token ids, or one when it only has text."""
    return len(delta.token_ids) if delta.token_ids else (1 if delta.text else 0)


class Routing:
    """Expert counts per MoE layer over the last ``window`` routed tokens."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.layers: tuple[int, ...] = ()
        self.hash_layers: tuple[int, ...] = ()
        self.n_experts = 0
        self.counts: list[list[int]] = []
        self.recent: deque[tuple[tuple[int, ...], ...]] = deque()

    def add(self, event: RoutingStats) -> None:
        if event.layers != self.layers or event.n_routed_experts != self.n_experts:
            self.layers, self.n_experts = tuple(event.layers), int(event.n_routed_experts)
            self.counts = [[0] * self.n_experts for _ in self.layers]
            self.recent.clear()
        self.hash_layers = tuple(getattr(event, "hash_layers", ()) or ())
        for row, experts in zip(self.counts, event.experts):
            for e in experts:
                if 0 <= e < self.n_experts:
                    row[e] += 1
        self.recent.append(event.experts)
        if len(self.recent) > self.window:
            for row, experts in zip(self.counts, self.recent.popleft()):
                for e in experts:
                    if 0 <= e < self.n_experts:
                        row[e] -= 1

    def heat(self) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...], int, int, tuple[float, ...]]:
        """``(layers, counts, n_experts, tokens, imbalance per layer)``; a hash-routed layer's
        imbalance is 0.0 (its experts follow the token ids, not a router's preference)."""
        imbalance = []
        for layer, row in zip(self.layers, self.counts):
            total = sum(row)
            routed = layer not in self.hash_layers
            imbalance.append(max(row) / (total / len(row)) if total and row and routed else 0.0)
        return (self.layers, tuple(tuple(r) for r in self.counts), self.n_experts,
                len(self.recent), tuple(imbalance))

    @staticmethod
    def label(clock: str, engine_model: str) -> str:
        """Expert choices are computed by whatever runs the model; for a
        modeled backend that is the local engine's model (``engine_model``,
        e.g. the built-in one), not the modeled target."""
        if clock == "measured":
            return "measured"
        return f"measured on {engine_model or 'the engine’s model'}, not the modeled target"


class Series:
    """Rolling figures of one backend."""

    def __init__(self, backend: str, *, bucket_s: float, history: int, current_window_s: float,
                 itl_window: int, routing_window: int) -> None:
        self.backend = backend
        self.bucket_s, self.window_s = bucket_s, current_window_s
        self.model = ""
        self.engine_model = ""  # what computes the text and routing of a modeled backend
        self.clock = "measured"
        self.label: str | None = None  # last known Timing.label
        self.context_window: int | None = None
        self.status, self.error = "idle", None
        self.replies = 0
        self.total_tokens = 0
        self.history: deque[float] = deque(maxlen=history)
        self.peak = 0.0
        self.decode_tokens_total = 0
        self.decode_time_total = 0.0
        self.itl: deque[float] = deque(maxlen=itl_window)
        self.routing = Routing(routing_window)
        self.price: Cost | None = None  # last known prices (for estimates)
        self.billed = [0.0, 0, 0.0, 0]  # sum of rate x tokens and tokens, input then output (all replies)
        self._new_reply(0.0, 0)

    # -------------------------------------------------------------- reply state

    def _new_reply(self, wall_base: float, prompt_tokens: int) -> None:
        self.started = False
        self.wall_base = wall_base
        self.prompt_tokens = prompt_tokens
        self.reply_tokens = 0
        self.decode_tokens = 0
        self.first_at: float | None = None
        self.last_at = 0.0
        self.timer = TokenTimer(start=0.0)  # this reply's token times (the one accumulator of console.api)
        self.timing: Timing | None = None
        self.cost: Cost | None = None
        self.recent: deque[tuple[float, int]] = deque()  # (at, tokens) inside the current window
        self.recent_tokens = 0
        self.bucket_start = 0.0
        self.bucket_tokens = 0
        self.bucket_gaps = 0.0

    def on_started(self, event: Started, now: float) -> None:
        self._close_reply()
        self._new_reply(now - event.at, event.prompt_tokens)
        self.started = True
        self.status, self.error = "streaming", None
        self.clock = event.clock
        if event.model:
            self.model = event.model
        self.last_at = event.at

    def on_delta(self, event: TextDelta, now: float) -> None:
        if not self.started:  # a stream without Started: begin a reply here
            self._new_reply(now - event.at, 0)
            self.started, self.status = True, "streaming"
        self.clock = event.clock
        n = _tokens(event)
        if n == 0:
            return
        self.reply_tokens += n
        self.total_tokens += n
        previous = self.timer.last_at
        self.timer.tokens(n, event.at)
        if self.first_at is None:
            self.first_at = self.last_at = self.bucket_start = self.timer.first_at
            return
        gap = self.timer.last_at - previous
        self.last_at = self.timer.last_at
        self.decode_tokens += n
        self.decode_tokens_total += n
        self.decode_time_total += gap
        self.itl.extend([gap / n] * min(n, self.itl.maxlen or n))
        self.recent.append((self.last_at, n))
        self.recent_tokens += n
        self._trim(self.last_at)
        # history buckets of bucket_s stream seconds from the first token; a
        # bucket holds the gaps that end in (start, start + bucket_s]
        if self.last_at > self.bucket_start + self.bucket_s:
            self._push_rate(self.bucket_tokens / self.bucket_s)
            advance = math.ceil((self.last_at - self.bucket_start) / self.bucket_s) - 1
            self.history.extend([0.0] * min(advance - 1, self.history.maxlen or 0))  # idle buckets
            self.bucket_start += advance * self.bucket_s
            self.bucket_tokens, self.bucket_gaps = 0, 0.0
        self.bucket_tokens += n
        self.bucket_gaps += gap

    def _push_rate(self, rate: float) -> None:
        self.history.append(rate)
        self.peak = max(self.peak, rate)

    def _trim(self, end: float) -> None:
        while self.recent and self.recent[0][0] <= end - self.window_s:
            self.recent_tokens -= self.recent.popleft()[1]

    def _close_reply(self) -> None:
        """Flush the partial last bucket (rate over its own gaps) of a reply."""
        if self.started and self.bucket_tokens and self.bucket_gaps > 0:
            self._push_rate(self.bucket_tokens / self.bucket_gaps)
        self.bucket_tokens, self.bucket_gaps = 0, 0.0
        if self.started:
            self.replies += 1
        self.started = False

    def on_routing(self, event: RoutingStats) -> None:
        self.routing.add(event)

    def on_finished(self, event: Finished) -> None:
        self.timing = event.timing
        self.label = event.timing.label or self.label
        self.clock = event.timing.clock
        self.prompt_tokens = event.usage.prompt_tokens or self.prompt_tokens
        if event.usage.completion_tokens:
            self.total_tokens += event.usage.completion_tokens - self.reply_tokens
            self.reply_tokens = event.usage.completion_tokens
        self.cost = event.cost
        if event.cost is not None:
            self.price = event.cost
            if event.reason != "cancelled":  # a stopped reply's cost is an estimate at these rates
                self.billed[0] += event.cost.usd_per_m_input * event.usage.prompt_tokens
                self.billed[1] += event.usage.prompt_tokens
                self.billed[2] += event.cost.usd_per_m_output * event.usage.completion_tokens
                self.billed[3] += event.usage.completion_tokens
        self.status = "cancelled" if event.reason == "cancelled" else "finished"
        self._close_reply()

    def on_failed(self, event: Failed) -> None:
        self.status, self.error = "failed", event.error
        if event.usage.prompt_tokens:
            self.prompt_tokens = event.usage.prompt_tokens
        self._close_reply()

    # -------------------------------------------------------------- figures

    def per_m_rates(self) -> tuple[float | None, float | None]:
        """USD per million input / output tokens over every finished reply of
        this backend (token-weighted), so that one reply's measured rate (a
        short prompt, a cold first prefill) does not swing the figure; the
        last reply's rates until tokens were billed."""
        in_usd, in_tokens, out_usd, out_tokens = self.billed
        last = self.price
        per_in = in_usd / in_tokens if in_tokens else (last.usd_per_m_input if last else None)
        per_out = out_usd / out_tokens if out_tokens else (last.usd_per_m_output if last else None)
        return per_in, per_out

    def timing_label(self) -> str:
        if self.clock == "measured":
            return "measured"
        return self.label if self.label and self.label != "measured" else "modeled"

    def rate(self, now: float) -> tuple[float, float, float]:
        """``(current, average, peak)`` decode tokens per second."""
        average = self.decode_tokens_total / self.decode_time_total if self.decode_time_total > 0 else 0.0
        end = self.last_at
        if self.started and self.clock == "measured":
            end = max(end, now - self.wall_base)  # a stalled stream's rate decays
        self._trim(end)
        current = 0.0
        if self.first_at is not None and self.recent_tokens:
            span = min(self.window_s, end - self.first_at)
            current = self.recent_tokens / span if span > 0 else 0.0
        peak = self.peak
        if self.started and self.bucket_gaps > 0 and self.last_at - self.bucket_start >= self.bucket_s / 2:
            peak = max(peak, self.bucket_tokens / self.bucket_gaps)
        return current, average, peak

    def decode_rate(self) -> float | None:
        """This reply's decode tokens per second."""
        if self.timing is not None and self.timing.decode_tokens_per_s:
            return self.timing.decode_tokens_per_s
        if self.first_at is not None and self.last_at > self.first_at:
            return self.decode_tokens / (self.last_at - self.first_at)
        return None

    def prefill_rate(self) -> float | None:
        """Prompt tokens per second of prefill."""
        if not self.prompt_tokens:
            return None
        if self.timing is not None:
            prefill = self.timing.prefill_s or (self.timing.ttft_s - self.timing.queue_s)
        elif self.first_at is not None:
            prefill = self.first_at
        else:
            return None
        return self.prompt_tokens / prefill if prefill > 0 else None

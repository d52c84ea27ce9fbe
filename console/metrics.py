"""Live performance figures of the replies streaming through the console.

:class:`Metrics` is fed every stream event (``observe(event, backend=...)``)
and answers :meth:`Metrics.snapshot` (cheap enough for a 4 Hz timer).

Time comes from the events, never from when they are drawn: each event's
``at`` is seconds since its request was accepted, on the clock the event names
(``"measured"``: ``time.monotonic()`` where the token was produced;
``"modeled"``: predicted by a performance model). Every figure of a snapshot
carries a label: ``"measured"`` or the backend's ``Timing.label`` /
``Cost.label`` (e.g. ``"modeled (calibrated to SGLang 96xH100, eta=0.37)"``).

Definitions (all per backend; compare views read one series per backend):

* decode rate: tokens after the first divided by the time they took, i.e.
  for each ``TextDelta`` after the first, ``len(token_ids)`` tokens over the
  gap since the previous delta. *current* = over the last ``current_window_s``
  of stream time; *average* = over every reply seen; *peak* = best
  ``bucket_s`` bucket. ``rate_history``: one value per bucket (sparkline).
* prefill rate: prompt tokens / prefill time (``Timing.prefill_s`` when the
  reply finished, the first token's ``at`` before that).
* TTFT: first ``TextDelta.at`` (``Timing.ttft_s`` once finished).
* inter-token latency p50/p95/p99 over the last ``itl_window`` per-token gaps
  (a delta of k tokens after gap g counts k gaps of g/k), linear interpolation
  between closest ranks (numpy's default percentile method).
* queue / prefill / decode split: from the reply's ``Timing``.
* cost: ``Finished.cost`` for a finished reply; while streaming, an estimate
  from the backend's last known price per million tokens.
* routing heat map: per MoE layer, how often each expert was chosen over the
  last ``routing_window`` tokens; load imbalance = max / mean of those counts.
* context: prompt tokens + tokens generated so far / the backend's window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Hashable

from console.api import Event, Failed, Finished, RoutingStats, Started, TextDelta
from console.metrics_series import Series, percentile


@dataclass(frozen=True)
class Rate:
    """Tokens per second: the last window, the average and the best bucket."""

    current: float = 0.0
    average: float = 0.0
    peak: float = 0.0


@dataclass(frozen=True)
class Latency:
    """Seconds; ``None`` while unknown."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    samples: int = 0


@dataclass(frozen=True)
class Split:
    """Where the reply's time went (seconds; ``None`` while unknown)."""

    queue_s: float | None = None
    prefill_s: float | None = None
    decode_s: float | None = None
    e2e_s: float | None = None


@dataclass(frozen=True)
class Spend:
    """Cost of this reply and of the current conversation, and the price."""

    reply_usd: float | None = None
    reply_estimated: bool = False
    conversation_usd: float = 0.0
    usd_per_m_input: float | None = None
    usd_per_m_output: float | None = None
    price_usd_per_chip_hour: float | None = None
    price_date: str = ""


@dataclass(frozen=True)
class RoutingHeat:
    """Expert counts per MoE layer over the rolling window.

    ``counts[i][e]``: how often expert ``e`` was chosen in MoE layer
    ``layers[i]``. ``imbalance[i]`` = max / mean of ``counts[i]`` (1.0 is
    perfectly even); ``max_imbalance`` the worst router-chosen layer. ``hash_layers`` are
    the layers whose experts come from a fixed token-id table (DeepSeek-V4's first layers),
    not from a router: their counts say which tokens were seen.
    """

    layers: tuple[int, ...] = ()
    counts: tuple[tuple[int, ...], ...] = ()
    n_experts: int = 0
    tokens: int = 0
    imbalance: tuple[float, ...] = ()
    max_imbalance: float | None = None
    hash_layers: tuple[int, ...] = ()


@dataclass(frozen=True)
class MetricsSnapshot:
    """Everything the panels show, for one backend. ``labels`` maps each
    figure group (``"rate"``, ``"ttft"``, ``"itl"``, ``"split"``, ``"cost"``,
    ``"routing"``, ``"context"``) to ``"measured"`` or a modeled label."""

    backend: str | None = None
    model: str = ""
    status: str = "idle"  # idle | streaming | finished | cancelled | failed
    error: str | None = None
    clock: str = "measured"
    rate: Rate = field(default_factory=Rate)
    decode_tokens_per_s: float | None = None
    prefill_tokens_per_s: float | None = None
    rate_history: tuple[float, ...] = ()
    ttft_s: float | None = None
    itl: Latency = field(default_factory=Latency)
    split: Split = field(default_factory=Split)
    spend: Spend = field(default_factory=Spend)
    routing: RoutingHeat = field(default_factory=RoutingHeat)
    prompt_tokens: int = 0
    reply_tokens: int = 0
    total_tokens: int = 0
    replies: int = 0
    context_tokens: int = 0
    context_window: int | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> Rate:
        """Alias of :attr:`rate` (decode tokens per second)."""
        return self.rate

    @property
    def label(self) -> str:
        """The label of the rate figures (``"measured"`` or the modeled label)."""
        return self.labels.get("rate", self.clock)


class Metrics:
    """Rolling aggregator, one series per backend. Not thread-safe: feed it
    from the event loop that consumes the streams.

    ``clock`` (default ``time.monotonic``) tells a measured stream's "now", so
    a stalled stream's current rate falls to zero; inject a fake one in tests.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, bucket_s: float = 0.5,
        history: int = 120, current_window_s: float = 1.0, itl_window: int = 256,
        routing_window: int = 512,
    ) -> None:
        if bucket_s <= 0 or current_window_s <= 0 or history < 1 or itl_window < 1 or routing_window < 1:
            raise ValueError("metrics windows must be positive")
        self._clock = clock
        self._params = dict(bucket_s=bucket_s, history=history, current_window_s=current_window_s,
                            itl_window=itl_window, routing_window=routing_window)
        self._series: dict[str, Series] = {}
        self._conversation_cost: dict[Hashable, float] = {}
        self._conversation: Hashable | None = None

    def _get(self, backend: str) -> Series:
        series = self._series.pop(backend, None)
        if series is None:
            series = Series(backend, **self._params)
        self._series[backend] = series  # re-insert: most recently active last
        return series

    def observe(self, event: Event, *, backend: str, conversation: Hashable | None = None) -> None:
        """Account one stream event of ``backend``. Cost of a finished reply is
        added to ``conversation`` (``None``: counted for the backend only)."""
        series = self._get(backend)
        if isinstance(event, TextDelta):
            series.on_delta(event, self._clock())
        elif isinstance(event, RoutingStats):
            series.on_routing(event)
        elif isinstance(event, Started):
            series.on_started(event, self._clock())
        elif isinstance(event, Finished):
            series.on_finished(event)
            if event.cost is not None and conversation is not None:
                self._conversation_cost[conversation] = (
                    self._conversation_cost.get(conversation, 0.0) + event.cost.total_usd)
        elif isinstance(event, Failed):
            series.on_failed(event)

    def describe(self, backend: str, *, context_window: int | None = None, label: str | None = None,
                 model: str | None = None, clock: str | None = None,
                 engine_model: str | None = None) -> None:
        """Tell what the events cannot: the backend's context window, its
        timing label before its first reply finishes, its model name, and
        its clock (``"modeled"`` for a modeled backend), so that its panels
        are labelled right from the moment it is picked."""
        series = self._series.get(backend)
        if series is None:
            series = self._series[backend] = Series(backend, **self._params)
        if clock and not series.started and series.timing is None:
            series.clock = clock
        if engine_model:
            series.engine_model = engine_model
        if context_window is not None:
            series.context_window = int(context_window)
        if label:
            series.label = label
        if model:
            series.model = model

    def set_conversation(self, conversation: Hashable | None, *, prior_cost_usd: float = 0.0) -> None:
        """Make ``conversation`` current for :meth:`snapshot`; ``prior_cost_usd``
        is what its stored replies already cost (replaces what was counted)."""
        self._conversation = conversation
        if conversation is not None:
            self._conversation_cost[conversation] = float(prior_cost_usd)

    def conversation_cost(self, conversation: Hashable | None = None) -> float:
        key = self._conversation if conversation is None else conversation
        return self._conversation_cost.get(key, 0.0)

    def backends(self) -> list[str]:
        """Backends seen so far, most recently active last."""
        return list(self._series)

    def reset(self, backend: str | None = None) -> None:
        """Forget one backend's series (or all, and the conversation costs)."""
        if backend is None:
            self._series.clear()
            self._conversation_cost.clear()
        else:
            self._series.pop(backend, None)

    def snapshot(self, backend: str | None = None) -> MetricsSnapshot:
        """Figures of ``backend`` (default: the most recently active one)."""
        if backend is None:
            if not self._series:
                return MetricsSnapshot(spend=Spend(conversation_usd=self.conversation_cost()))
            backend = next(reversed(self._series))
        series = self._series.get(backend)
        if series is None:
            return MetricsSnapshot(backend=backend, spend=Spend(conversation_usd=self.conversation_cost()))
        return _snapshot(series, self._clock(), self.conversation_cost())


def _snapshot(s: Series, now: float, conversation_usd: float) -> MetricsSnapshot:
    timing = s.timing
    gaps = sorted(s.itl)
    itl = Latency(percentile(gaps, 50), percentile(gaps, 95), percentile(gaps, 99), len(gaps))
    if timing is not None:
        split = Split(timing.queue_s, timing.prefill_s, timing.decode_s, timing.e2e_s)
        ttft = timing.ttft_s
    else:
        decode = (s.last_at - s.first_at) if s.first_at is not None else None
        # queue and prefill are told apart only when the reply ends; until then
        # the time to the first token is shown as prefill (queue included)
        split = Split(None, s.first_at, decode, s.last_at if s.started else None)
        ttft = s.first_at
    cost = s.cost
    per_in, per_out = s.per_m_rates()
    if cost is not None:
        spend = Spend(cost.total_usd, False, conversation_usd, per_in, per_out,
                      cost.price_usd_per_chip_hour, cost.price_date)
    elif s.price is not None and s.status == "streaming":
        p = s.price
        estimate = (s.prompt_tokens * p.usd_per_m_input + s.reply_tokens * p.usd_per_m_output) / 1e6
        spend = Spend(estimate, True, conversation_usd, per_in, per_out,
                      p.price_usd_per_chip_hour, p.price_date)
    elif s.price is not None:
        p = s.price
        spend = Spend(None, False, conversation_usd, per_in, per_out,
                      p.price_usd_per_chip_hour, p.price_date)
    else:
        spend = Spend(conversation_usd=conversation_usd)
    label = s.timing_label()
    labels = {
        "rate": label, "ttft": label, "itl": label, "split": label, "context": "measured",
        "cost": (s.price.label if s.price is not None and s.price.label else ""),
        "routing": s.routing.label(s.clock, s.engine_model),
    }
    current, average, peak = s.rate(now)
    peak = max(peak, current)  # the best bucket so far can lag the last window
    layers, counts, n_experts, routed, imbalance = s.routing.heat()
    hashed = s.routing.hash_layers
    routed_imbalance = [v for layer, v in zip(layers, imbalance) if layer not in hashed]
    routing = RoutingHeat(layers, counts, n_experts, routed, imbalance,
                          max(routed_imbalance) if routed_imbalance else None, hashed)
    return MetricsSnapshot(
        backend=s.backend, model=s.model, status=s.status, error=s.error, clock=s.clock,
        rate=Rate(current, average, peak), decode_tokens_per_s=s.decode_rate(), prefill_tokens_per_s=s.prefill_rate(),
        rate_history=tuple(s.history), ttft_s=ttft, itl=itl, split=split, spend=spend,
        routing=routing, prompt_tokens=s.prompt_tokens, reply_tokens=s.reply_tokens,
        total_tokens=s.total_tokens, replies=s.replies,
        context_tokens=s.prompt_tokens + s.reply_tokens, context_window=s.context_window,
        labels=labels,
    )

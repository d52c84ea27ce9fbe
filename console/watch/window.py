"""Successive scrapes -> what a server is doing now.

* gauges (running, waiting, KV-cache use, batch) from the latest scrape;
* rates (prompt and generation tok/s) between the two latest scrapes; a
  counter that went down was reset (the server restarted) and counts from 0;
* TTFT / ITL / e2e percentiles from the histograms' bucket *deltas* between
  the latest scrape and the oldest one inside ``window_s`` (with one scrape
  only: since the server started, and the view says so), interpolated within
  a bucket as Prometheus' ``histogram_quantile`` does; a percentile falling in
  the ``+Inf`` bucket is reported as the highest finite bound;
* success / abort counts: totals since the server started;
* histories of generation tok/s and queue depth (one value per scrape) for sparklines.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from console.watch.names import Profile, profile_for
from console.watch.scrape import Snapshot, first_present

BARS = "▁▂▃▄▅▆▇█"


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' quantile of cumulative ``buckets`` (upper bound -> count); None when empty."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank and count > below:
            if math.isinf(bound):
                finite = [b for b in bounds if not math.isinf(b)]
                return finite[-1] if finite else None
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = (bound if not math.isinf(bound) else lower), count
    return lower


def sparkline(values: list[float], width: int = 30) -> str:
    """Unicode bars of the last ``width`` values, scaled to their maximum."""
    values = values[-width:]
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in values)


@dataclass
class ServerView:
    """One refresh of the watch (every figure from the server's own metrics)."""

    kind: str
    running: float | None = None
    waiting: float | None = None
    kv_usage: float | None = None
    batch: float | None = None
    tokens_per_step: float | None = None
    prompt_tok_s: float | None = None
    generation_tok_s: float | None = None
    ttft_ms: dict[str, float | None] = field(default_factory=dict)
    itl_ms: dict[str, float | None] = field(default_factory=dict)
    e2e_ms: dict[str, float | None] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    aborted: float | None = None
    window_s: float = 0.0
    generation_history: list[float] = field(default_factory=list)
    queue_history: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Watcher:
    """Feed it scrapes (:meth:`add`), ask it for :meth:`view`."""

    def __init__(self, window_s: float = 60.0, history: int = 120) -> None:
        self.window_s = window_s
        self.scrapes: deque[Snapshot] = deque()
        self.generation_history: deque[float] = deque(maxlen=history)
        self.queue_history: deque[float] = deque(maxlen=history)
        self.profile: Profile | None = None

    def add(self, snapshot: Snapshot) -> None:
        self.scrapes.append(snapshot)
        while len(self.scrapes) > 2 and snapshot.at - self.scrapes[1].at >= self.window_s:
            self.scrapes.popleft()
        self.profile = profile_for(snapshot.names()) or self.profile
        view = self.view()
        self.generation_history.append(view.generation_tok_s or 0.0)
        self.queue_history.append(view.waiting or 0.0)

    def _rate(self, names: tuple[str, ...]) -> float | None:
        if len(self.scrapes) < 2:
            return None
        old, new = self.scrapes[-2], self.scrapes[-1]
        name = first_present(new, names)
        if name is None or new.at <= old.at:
            return None
        now, before = new.total(name), old.total(name) or 0.0
        delta = now - before if now >= before else now  # a reset counts from 0
        return delta / (new.at - old.at)

    def _quantiles(self, names: tuple[str, ...]) -> dict[str, float | None]:
        new = self.scrapes[-1]
        name = next((n for n in names if n + "_bucket" in new.samples), None)
        if name is None:
            return {}
        latest = new.buckets(name)
        base = self.scrapes[0].buckets(name) if len(self.scrapes) > 1 else {}
        deltas = {b: c - base.get(b, 0.0) for b, c in latest.items()}
        if any(v < 0 for v in deltas.values()):
            deltas = latest  # reset inside the window
        return {f"p{q}": (None if (v := histogram_quantile(q / 100, deltas)) is None else v * 1000.0)
                for q in (50, 90, 99)}

    def view(self) -> ServerView:
        profile = self.profile
        if not self.scrapes or profile is None:
            return ServerView(kind="unknown", notes=["no known serving metrics in this /metrics"])
        new = self.scrapes[-1]
        gauge = lambda names: (new.total(n) if (n := first_present(new, names)) else None)  # noqa: E731
        v = ServerView(kind=profile.kind, running=gauge(profile.running), waiting=gauge(profile.waiting),
                       kv_usage=gauge(profile.kv_usage))
        v.batch = gauge(profile.batch) if profile.batch else v.running
        v.prompt_tok_s = self._rate(profile.prompt_tokens)
        v.generation_tok_s = self._rate(profile.generation_tokens)
        v.ttft_ms, v.itl_ms, v.e2e_ms = (self._quantiles(n) for n in (profile.ttft, profile.itl, profile.e2e))
        step = next((n for n in profile.step_tokens if n + "_count" in new.samples), None)
        if step:
            count, total = new.total(step + "_count"), new.total(step + "_sum")
            v.tokens_per_step = total / count if count else None
        if profile.finished and profile.finished in new.samples:
            for labels, value in new.samples[profile.finished].items():
                reason = dict(labels).get(profile.finished_label, "all") if profile.finished_label else "all"
                v.finished[reason] = v.finished.get(reason, 0.0) + value
        v.aborted = new.total(profile.aborted) if profile.aborted else v.finished.get("abort")
        v.window_s = new.at - self.scrapes[0].at
        v.generation_history = list(self.generation_history)
        v.queue_history = list(self.queue_history)
        if not profile.ttft:
            v.notes.append(f"{profile.kind} exports no latency histograms; measure TTFT/ITL with bench serve")
        if len(self.scrapes) < 2:
            v.notes.append("percentiles since the server started (one scrape so far)")
        return v

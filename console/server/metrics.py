"""``GET /metrics``: Prometheus text format with vLLM's metric names, via ``prometheus_client``.

Per request (recorded when it ends, from ``time.monotonic()`` stamps taken where the engine
produced each token): ``vllm:time_to_first_token_seconds``, ``vllm:inter_token_latency_seconds``
(every gap between tokens), ``vllm:e2e_request_latency_seconds``,
``vllm:request_queue_time_seconds`` (arrival to first prefill chunk),
``vllm:request_prefill_time_seconds`` (first chunk to first token),
``vllm:request_decode_time_seconds`` (first token to the end); the counters
``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total`` and
``vllm:request_success_total{finished_reason}``. Histogram buckets start at 1 ms so the
engine's millisecond-scale gaps are resolved.

Read live from the loop at each scrape: ``vllm:num_requests_running``,
``vllm:num_requests_waiting``, ``vllm:kv_cache_usage_perc`` (tokens held by running sequences
over ``max_batch`` x context window: the share of the batch's cache capacity in use), and what
vLLM lacks: ``moe_console:expert_tokens_total{layer,expert}`` (routed assignments of decoded
tokens: the expert load per MoE layer), ``moe_console:prefix_cache_queries_total`` /
``moe_console:prefix_cache_hits_total`` (prompt tokens looked up / served from cached
prefixes), ``moe_console:prefix_cache_hit_rate``, ``moe_console:prefix_cache_bytes``, and the
engine loop's decode step time by batch size: ``moe_console:decode_step_seconds{batch}``
(a summary: ``_count`` and ``_sum`` of every decode step of exactly that many sequences) and
``moe_console:decode_step_median_seconds{batch}`` (median of the recent ones), which
``moe-console bench serve`` prints for batch 1 and 16.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from .bridge import EngineBridge

#: Seconds; dense from 1 ms (engine steps) to a minute (long requests).
LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
                   0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServerMetrics:
    """The server's registry (one per app, so tests can run several servers in a process)."""

    def __init__(self, bridge: EngineBridge) -> None:
        self.bridge = bridge
        self.registry = CollectorRegistry(auto_describe=True)
        label = ["model_name"]

        def histogram(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, label, buckets=LATENCY_BUCKETS, registry=self.registry)

        self.ttft = histogram("vllm:time_to_first_token_seconds", "Time to first token (arrival to first token).")
        self.itl = histogram("vllm:inter_token_latency_seconds", "Gaps between consecutive tokens of a request.")
        self.e2e = histogram("vllm:e2e_request_latency_seconds", "Arrival to the last token.")
        self.queue = histogram("vllm:request_queue_time_seconds", "Arrival to the first prefill chunk.")
        self.prefill = histogram("vllm:request_prefill_time_seconds", "First prefill chunk to the first token.")
        self.decode = histogram("vllm:request_decode_time_seconds", "First token to the last token.")
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Prompt tokens of finished requests.", label,
                                     registry=self.registry)
        self.generation_tokens = Counter("vllm:generation_tokens", "Generated tokens.", label, registry=self.registry)
        self.success = Counter("vllm:request_success", "Finished requests by finish reason.",
                               label + ["finished_reason"], registry=self.registry)
        self.registry.register(_LoopCollector(bridge))

    def observe_gaps(self, gaps: Iterable[float]) -> None:
        itl = self.itl.labels(self.bridge.name)
        for gap in gaps:
            itl.observe(gap)

    def record(self, handle, arrival: float, finish_reason: str) -> None:
        """Record one finished request (its Handle's timestamps)."""
        name = self.bridge.name
        end = handle.finished_at or handle.first_token_at or arrival
        if handle.first_token_at is not None:
            self.ttft.labels(name).observe(max(0.0, handle.first_token_at - arrival))
            self.decode.labels(name).observe(max(0.0, end - handle.first_token_at))
            if handle.scheduled_at is not None:
                self.prefill.labels(name).observe(max(0.0, handle.first_token_at - handle.scheduled_at))
        if handle.scheduled_at is not None:
            self.queue.labels(name).observe(max(0.0, handle.scheduled_at - arrival))
        self.e2e.labels(name).observe(max(0.0, end - arrival))
        self.prompt_tokens.labels(name).inc(handle.prompt_tokens)
        self.generation_tokens.labels(name).inc(handle.completion_tokens)
        self.success.labels(name, finish_reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LoopCollector(Collector):
    """Gauges and counters read from the generation loop at scrape time."""

    def __init__(self, bridge: EngineBridge) -> None:
        self.bridge = bridge

    def describe(self):
        return []

    def collect(self):
        bridge, name = self.bridge, self.bridge.name
        loop = bridge.loop
        stats = loop.stats if loop is not None else None

        def gauge(metric: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(metric, doc, labels=["model_name"])
            family.add_metric([name], value)
            return family

        yield gauge("vllm:num_requests_running", "Sequences in the running batch.", stats.running if stats else 0)
        yield gauge("vllm:num_requests_waiting", "Requests waiting for a batch slot.", stats.waiting if stats else 0)
        capacity = bridge.max_batch * (bridge.facts.context_window if bridge.facts else 1)
        yield gauge("vllm:kv_cache_usage_perc", "Tokens held by running sequences / (max batch x context window).",
                    (stats.running_tokens / capacity) if stats else 0.0)
        experts = CounterMetricFamily("moe_console:expert_tokens", "Routed assignments of decoded tokens per "
                                      "MoE layer and expert.", labels=["model_name", "layer", "expert"])
        if stats is not None and stats.expert_tokens.size:
            for row, layer in zip(stats.expert_tokens.tolist(), bridge.model.moe_layers):
                for expert, count in enumerate(row):
                    experts.add_metric([name, str(layer), str(expert)], count)
        yield experts
        cache = loop.prefix_cache if loop is not None else None
        queries, hits = (cache.query_tokens, cache.hit_tokens) if cache else (0, 0)
        for metric, doc, value in (("moe_console:prefix_cache_queries", "Prompt tokens looked up.", queries),
                                   ("moe_console:prefix_cache_hits", "Prompt tokens served from cached prefixes.",
                                    hits)):
            family = CounterMetricFamily(metric, doc, labels=["model_name"])
            family.add_metric([name], value)
            yield family
        yield gauge("moe_console:prefix_cache_hit_rate", "Prefix-cache hits / queries (prompt tokens).",
                    hits / queries if queries else 0.0)
        yield gauge("moe_console:prefix_cache_bytes", "Memory held by cached prefixes.", cache.nbytes if cache else 0)
        yield from _step_metrics(name, loop.step_summary() if loop is not None else {})


def _step_metrics(name: str, summary: dict[int, tuple[int, float, float | None]]):
    """The decode step time by batch size (see the module doc)."""
    steps = SummaryMetricFamily("moe_console:decode_step_seconds", "Engine loop decode steps of exactly `batch` "
                                "sequences (batched decode and sampling).", labels=["model_name", "batch"])
    median = GaugeMetricFamily("moe_console:decode_step_median_seconds", "Median of the recent decode steps of "
                               "exactly `batch` sequences.", labels=["model_name", "batch"])
    for batch, (count, total, middle) in sorted(summary.items()):
        steps.add_metric([name, str(batch)], count, total)
        if middle is not None:
            median.add_metric([name, str(batch)], middle)
    yield steps
    yield median

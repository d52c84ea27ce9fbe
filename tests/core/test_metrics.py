"""Metrics: figures checked against hand-computed values (and numpy for percentiles).

Times are multiples of 1/16 s so every sum is exact in binary floating point.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from console.api import Cost, Failed, Finished, RoutingStats, Started, TextDelta, Timing, Usage
from console.metrics import Metrics
from conftest import FakeClock

PRICE = Cost(input_usd=1e-5, output_usd=4e-6, usd_per_m_input=0.5, usd_per_m_output=2.0,
             price_usd_per_chip_hour=2.0, price_date="2025-06-01", label="test price list")
MODEL_LABEL = "modeled (calibrated to run-A, eta=0.5)"


def feed(m: Metrics, clock: FakeClock, ats, *, backend="a", prompt=100, kind="measured", finish=None,
         conversation=None, tokens_per_delta=1):
    """One reply: Started at 0, one delta per ``at`` (the fake clock follows the
    stream, as it would for a measured backend)."""
    start = clock.now
    m.observe(Started("r", backend, "m-1", prompt, at=0.0, clock=kind), backend=backend, conversation=conversation)
    for i, at in enumerate(ats):
        clock.now = start + at
        ids = tuple(range(i * tokens_per_delta, (i + 1) * tokens_per_delta))
        m.observe(TextDelta("x", ids, at=at, clock=kind), backend=backend, conversation=conversation)
    if finish is not None:
        m.observe(finish, backend=backend, conversation=conversation)


def steady(first=0.25, gap=0.125, n=16):
    return [first + i * gap for i in range(n + 1)]


def test_itl_percentiles_match_hand_computed_values_and_numpy(clock):
    m = Metrics(clock=clock)
    gaps = [0.0625, 0.1875, 0.125, 0.375, 0.25, 0.3125, 0.4375, 0.5, 0.0625 * 9, 0.625]
    ats = [0.25]
    for g in gaps:
        ats.append(ats[-1] + g)
    feed(m, clock, ats)
    itl = m.snapshot().itl
    # sorted gaps /16: 1 2 3 4 5 6 7 8 9 10; p50 at rank 4.5 -> 5.5/16,
    # p95 at rank 8.55 -> 9.55/16, p99 at rank 8.91 -> 9.91/16 (linear interpolation)
    assert itl.samples == 10
    assert itl.p50 == pytest.approx(5.5 / 16)
    assert itl.p95 == pytest.approx(9.55 / 16)
    assert itl.p99 == pytest.approx(9.91 / 16)
    for q, value in ((50, itl.p50), (95, itl.p95), (99, itl.p99)):
        assert value == pytest.approx(np.percentile(gaps, q))


def test_itl_window_keeps_only_the_last_gaps(clock):
    m = Metrics(clock=clock, itl_window=4)
    feed(m, clock, [0.0, 0.5, 0.5625, 0.75, 0.8125, 1.0, 1.125])  # gaps 8,1,3,1,3,2 /16
    itl = m.snapshot().itl
    assert itl.samples == 4  # last four: 3,1,3,2 /16 -> sorted 1,2,3,3
    assert itl.p50 == pytest.approx(2.5 / 16)
    assert itl.p99 == pytest.approx(3 / 16)


def test_a_delta_of_k_tokens_counts_k_gaps(clock):
    m = Metrics(clock=clock)
    feed(m, clock, [0.25, 0.375], tokens_per_delta=2)
    snap = m.snapshot()
    # the first delta's 2 tokens, then 2 tokens 0.125 s later -> two gaps of 1/16
    assert snap.itl.samples == 2 and snap.itl.p50 == pytest.approx(0.0625)
    assert snap.reply_tokens == 4


def test_rates_history_and_peak(clock):
    m = Metrics(clock=clock, bucket_s=0.5, current_window_s=1.0)
    ats = [0.0] + [0.125 * i for i in range(1, 5)] + [0.5 + 0.0625 * i for i in range(1, 9)] + [1.25, 1.5]
    timing = Timing(ttft_s=0.0, e2e_s=1.5, inter_token_s=(0.1,) * 14, decode_s=1.5)
    feed(m, clock, ats, finish=Finished("stop", Usage(100, 15), timing))
    snap = m.snapshot()
    # buckets: (0, .5] 4 tokens -> 8/s; (.5, 1] 8 tokens -> 16/s; (1, 1.5] 2 tokens over 0.5 s -> 4/s
    assert snap.rate_history == (8.0, 16.0, 4.0)
    assert snap.rate.peak == 16.0
    assert snap.rate.average == pytest.approx(14 / 1.5)
    # current: tokens whose gap ended in (0.5, 1.5] -> 8 + 2 = 10 over 1 s
    assert snap.rate.current == pytest.approx(10.0)
    assert snap.replies == 1 and snap.status == "finished"


def test_live_figures_then_finished_timing(clock):
    m = Metrics(clock=clock)
    feed(m, clock, steady())  # first token at 0.25, then 16 tokens 0.125 s apart
    live = m.snapshot()
    assert live.status == "streaming"
    assert live.ttft_s == 0.25
    assert live.decode_tokens_per_s == pytest.approx(16 / 2.0)
    assert live.prefill_tokens_per_s == pytest.approx(100 / 0.25)
    assert live.rate.current == pytest.approx(8.0)
    assert live.split.queue_s is None and live.split.decode_s == pytest.approx(2.0)
    timing = Timing(ttft_s=0.3, e2e_s=2.3, inter_token_s=(0.125,) * 16, queue_s=0.1, prefill_s=0.2,
                    decode_s=2.0)
    m.observe(Finished("stop", Usage(100, 17), timing), backend="a")
    done = m.snapshot()
    assert done.ttft_s == 0.3
    assert (done.split.queue_s, done.split.prefill_s, done.split.decode_s, done.split.e2e_s) == (0.1, 0.2, 2.0, 2.3)
    assert done.prefill_tokens_per_s == pytest.approx(500.0)
    assert done.decode_tokens_per_s == pytest.approx(8.0)
    assert done.reply_tokens == 17 and done.total_tokens == 17


def test_measured_stall_lowers_current_rate_modeled_does_not(clock):
    m = Metrics(clock=clock, current_window_s=1.0)
    start = clock.now
    feed(m, clock, steady(), backend="meas")
    feed(m, clock, steady(), backend="mod", kind="modeled")
    clock.now = start + 2.25  # just after the measured stream's last token
    assert m.snapshot("meas").rate.current == pytest.approx(8.0)
    clock.now = start + 2.75  # measured stream silent for 0.5 s: only (1.75, 2.75] counts
    assert m.snapshot("meas").rate.current == pytest.approx(4.0)
    clock.now = start + 4.0
    assert m.snapshot("meas").rate.current == 0.0
    assert m.snapshot("mod").rate.current == pytest.approx(8.0)  # modeled time does not pass with the wall


def test_labels_measured_and_modeled(clock):
    m = Metrics(clock=clock)
    feed(m, clock, steady(n=4), backend="local")
    measured = m.snapshot("local")
    assert measured.clock == "measured" and measured.label == "measured"
    assert {measured.labels[k] for k in ("rate", "ttft", "itl", "split", "routing")} == {"measured"}

    feed(m, clock, steady(n=4), backend="h100", kind="modeled")
    assert m.snapshot("h100").labels["rate"] == "modeled"  # calibration not known yet
    m.describe("h100", label="modeled (ideal)")
    assert m.snapshot("h100").labels["itl"] == "modeled (ideal)"
    timing = Timing(ttft_s=0.25, e2e_s=0.75, inter_token_s=(0.125,) * 4, decode_s=0.5, clock="modeled",
                    label=MODEL_LABEL)
    m.observe(Finished("stop", Usage(100, 5), timing, PRICE, clock="modeled"), backend="h100")
    snap = m.snapshot("h100")
    assert snap.clock == "modeled"
    assert {snap.labels[k] for k in ("rate", "ttft", "itl", "split")} == {MODEL_LABEL}
    assert snap.labels["cost"] == "test price list"
    assert "not the modeled target" in snap.labels["routing"]
    assert m.snapshot("local").label == "measured"  # per-backend series stay apart


def test_cost_reply_conversation_and_live_estimate(clock):
    m = Metrics(clock=clock)
    m.set_conversation(7, prior_cost_usd=0.01)
    timing = Timing(ttft_s=0.25, e2e_s=0.75, decode_s=0.5, clock="modeled", label=MODEL_LABEL)
    for _ in range(2):
        feed(m, clock, steady(n=4), backend="h100", kind="modeled", conversation=7,
             finish=Finished("stop", Usage(20, 5), timing, PRICE, clock="modeled"))
    # a compare run (no conversation) is not charged to the conversation
    feed(m, clock, steady(n=4), backend="h100", kind="modeled",
         finish=Finished("stop", Usage(20, 5), timing, PRICE, clock="modeled"))
    spend = m.snapshot("h100").spend
    assert spend.reply_usd == pytest.approx(1.4e-5) and not spend.reply_estimated
    assert spend.conversation_usd == pytest.approx(0.01 + 2 * 1.4e-5)
    assert (spend.usd_per_m_input, spend.usd_per_m_output) == (0.5, 2.0)
    assert (spend.price_usd_per_chip_hour, spend.price_date) == (2.0, "2025-06-01")
    feed(m, clock, [0.25, 0.375, 0.5], backend="h100", kind="modeled", prompt=20)  # still streaming
    live = m.snapshot("h100").spend
    assert live.reply_estimated
    assert live.reply_usd == pytest.approx((20 * 0.5 + 3 * 2.0) / 1e6)
    m.set_conversation(8)
    assert m.snapshot().spend.conversation_usd == 0.0


def test_routing_heat_map_over_a_rolling_window(clock):
    m = Metrics(clock=clock, routing_window=3)
    events = [((0, 1), (2, 3)), ((0, 2), (2, 3)), ((0, 3), (1, 3)), ((1, 2), (0, 3))]
    for experts in events:
        m.observe(RoutingStats((1, 2), experts, 4), backend="a")
    heat = m.snapshot().routing
    assert heat.layers == (1, 2) and heat.n_experts == 4 and heat.tokens == 3
    # last three events only: layer 1 -> experts 0,0,1,2,2,3; layer 2 -> 2,3,1,3,0,3
    assert heat.counts == ((2, 1, 2, 1), (1, 1, 1, 3))
    assert heat.imbalance == pytest.approx((2 / 1.5, 3 / 1.5))
    assert heat.max_imbalance == pytest.approx(2.0)
    m.observe(RoutingStats((3,), ((5,),), 8), backend="a")  # another model: the map starts over
    heat = m.snapshot().routing
    assert heat.layers == (3,) and heat.counts == ((0, 0, 0, 0, 0, 1, 0, 0),)


def test_context_failure_and_backend_choice(clock):
    m = Metrics(clock=clock)
    m.describe("a", context_window=2048)
    feed(m, clock, steady(n=4), backend="a")
    snap = m.snapshot("a")
    assert (snap.context_tokens, snap.context_window) == (105, 2048)
    m.observe(Failed("prompt too long", usage=Usage(3000, 0)), backend="b")
    assert m.snapshot().backend == "b"  # the most recently active
    failed = m.snapshot("b")
    assert (failed.status, failed.error, failed.prompt_tokens) == ("failed", "prompt too long", 3000)
    assert m.backends() == ["a", "b"]
    assert m.snapshot("nobody").backend == "nobody" and m.snapshot("nobody").replies == 0
    m.reset("b")
    assert m.backends() == ["a"]


def test_observe_and_snapshot_are_cheap(clock):
    m = Metrics(clock=clock)
    layers = tuple(range(3, 61))
    experts = tuple(tuple((i * 7 + j) % 256 for j in range(8)) for i in range(len(layers)))
    m.observe(Started("r", "big", "m", 1000), backend="big")
    t0 = time.perf_counter()
    for i in range(5000):
        m.observe(TextDelta("x", (i,), at=0.01 * i), backend="big")
        m.observe(RoutingStats(layers, experts, 256, at=0.01 * i), backend="big")
    per_event = (time.perf_counter() - t0) / 10000
    t0 = time.perf_counter()
    for _ in range(20):
        snap = m.snapshot("big")
    per_snapshot = (time.perf_counter() - t0) / 20
    assert snap.routing.tokens == 512 and len(snap.routing.counts) == 58
    assert per_event < 1e-3        # generous: ~30 us measured on the dev box
    assert per_snapshot < 0.05     # 4 Hz leaves 250 ms per frame


def test_peak_is_never_below_now_and_prefill_shows_while_streaming(clock):
    m = Metrics(clock=clock, bucket_s=10.0)  # a bucket longer than the stream: no full bucket yet
    feed(m, clock, [0.3, 0.31, 0.32, 0.33, 0.34], backend="a")
    snap = m.snapshot("a")
    assert snap.rate.current > 0 and snap.rate.peak >= snap.rate.current
    assert snap.ttft_s == pytest.approx(0.3) and snap.split.prefill_s == pytest.approx(0.3)  # queue: at the end


def test_labels_follow_a_described_backend_before_its_first_reply(clock):
    m = Metrics(clock=clock)
    m.describe("h100", clock="modeled", engine_model="the built-in model")
    snap = m.snapshot("h100")
    assert snap.labels["rate"] == "modeled" and snap.replies == 0


def test_price_per_million_is_token_weighted_over_replies(clock):
    m = Metrics(clock=clock)
    timing = Timing(ttft_s=0.25, e2e_s=0.75, decode_s=0.5)
    cold = Cost(input_usd=0, output_usd=0, usd_per_m_input=1.5, usd_per_m_output=2.0, price_usd_per_chip_hour=0.1)
    warm = Cost(input_usd=0, output_usd=0, usd_per_m_input=0.004, usd_per_m_output=2.0, price_usd_per_chip_hour=0.1)
    feed(m, clock, steady(n=4), backend="local", finish=Finished("stop", Usage(10, 4), timing, cold))
    feed(m, clock, steady(n=4), backend="local", finish=Finished("stop", Usage(990, 4), timing, warm))
    spend = m.snapshot("local").spend
    assert spend.usd_per_m_input == pytest.approx((10 * 1.5 + 990 * 0.004) / 1000)

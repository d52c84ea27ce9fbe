"""Serving points: batch choice (concurrency, HBM cap, TPOT search), colocation and cost."""

import pytest

from console.perf import PerfDataError, Price, Workload, estimate


def test_tpot_target_searches_the_largest_batch(v3, note_dep, note_fit, h100, a950):
    w = Workload(context=2000, concurrency=None, tpot_ms=50)
    h, a = estimate(v3, h100, note_dep, w, note_fit), estimate(v3, a950, note_dep, w, note_fit)
    assert h.tpot_s <= 0.050 and estimate(v3, h100, note_dep, Workload(context=2000, concurrency=h.batch + 1), note_fit).tpot_s > 0.050
    assert h.tokens_per_s_per_chip == pytest.approx(2225, abs=2)  # note: 2,225 at <= 50 ms
    assert a.tokens_per_s_per_chip == pytest.approx(2007, abs=2)  # note: 2,007
    w100 = Workload(context=2000, concurrency=None, tpot_ms=100)
    assert estimate(v3, h100, note_dep, w100, note_fit).tokens_per_s_per_chip == pytest.approx(2813, abs=3)


def test_unreachable_tpot_target_is_flagged(v3, dep, fit, h100):
    e = estimate(v3, h100, dep, Workload(context=2000, concurrency=None, tpot_ms=5), fit)
    assert e.batch == 1 and not e.tpot_target_met


def test_concurrency_is_capped_by_hbm(v3, dep, fit, h100):
    e = estimate(v3, h100, dep, Workload(context=4989, concurrency=256), fit)
    assert e.batch == e.max_batch < 256


def test_model_that_does_not_fit_is_a_clear_error(v3, dep, fit, h100):
    with pytest.raises(PerfDataError, match="does not fit on NVIDIA H100 SXM at EP8"):
        estimate(v3, h100, dep.replace(ep=8), Workload(concurrency=1), fit)


def test_cost_per_million_tokens(v3, dep, fit, h100):
    price = Price(2.35, "2026-03", "test")
    e = estimate(v3, h100, dep, Workload(context=2000, concurrency=256), fit, price)
    assert e.usd_per_m_output == pytest.approx(2.35 / (2785.25 * 3600) * 1e6, rel=1e-6)
    assert e.usd_per_m_input == pytest.approx(2.35 / (e.prefill_tokens_per_s * 3600) * 1e6, rel=1e-9)
    half = estimate(v3, h100, dep.replace(utilization=0.5), Workload(context=2000, concurrency=256), fit, price)
    assert half.usd_per_m_output == pytest.approx(2 * e.usd_per_m_output)
    assert estimate(v3, h100, dep, Workload(concurrency=8), fit).usd_per_m_output is None  # no price given


def test_colocated_serving_shares_chips_with_prefill(v3, dep, fit, h100):
    w = Workload(prompt_tokens=2000, output_tokens=500, context=2000, concurrency=128)
    pd = estimate(v3, h100, dep, w, fit)
    co = estimate(v3, h100, dep.replace(pd_disaggregated=False), w, fit)
    decode_s = 500 * pd.tpot_s
    share = decode_s / (decode_s + 128 * 2000 / pd.prefill_tokens_per_s)
    assert co.tokens_per_s_per_chip == pytest.approx(pd.tokens_per_s_per_chip * share)
    assert co.tpot_s == pytest.approx(pd.tpot_s / share)


def test_reply_time_and_default_context():
    w = Workload(prompt_tokens=1000, output_tokens=200)
    assert w.decode_context == 1100


@pytest.mark.parametrize("kwargs, message", [
    ({"prompt_tokens": 0}, "prompt and output tokens"),
    ({"concurrency": 0}, "concurrency must be >= 1"),
    ({"concurrency": 8, "tpot_ms": 50}, "either a concurrency"),
    ({"concurrency": None, "tpot_ms": -1}, "TPOT target must be > 0"),
    ({"context": 0}, "context must be >= 1"),
])
def test_bad_workloads_are_refused(kwargs, message):
    with pytest.raises(PerfDataError, match=message):
        Workload(**kwargs)


def test_ttft_of_a_short_prompt_is_at_least_one_forward_pass(v3, dep, fit, h100):
    short = estimate(v3, h100, dep, Workload(prompt_tokens=10, context=2000, concurrency=128), fit)
    one_pass = estimate(v3, h100, dep, Workload(prompt_tokens=10, context=1, concurrency=1), fit).tpot_s
    assert short.ttft_s >= one_pass * 0.99
    assert short.ttft_s > 0.015  # the uncapped MFU rate would give ~1.3 ms
    long = estimate(v3, h100, dep, Workload(prompt_tokens=2000, context=2000, concurrency=128), fit)
    assert long.ttft_s == pytest.approx(0.293, abs=0.002)  # the note's 2k TTFT is unchanged

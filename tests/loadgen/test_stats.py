"""vLLM's definitions, checked against numpy on hand-made records."""

from __future__ import annotations

import numpy as np
import pytest

from console.loadgen.client import RequestRecord
from console.loadgen.stats import level_figures, percentile


def test_percentile_matches_numpy_linear():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100):
        values = rng.exponential(size=n).tolist()
        for q in (0, 50, 90, 99, 100):
            assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_level_figures_follow_vllm_definitions():
    records = [
        RequestRecord(ttft_s=0.10, e2e_s=1.00, output_tokens=10, prompt_tokens=20, itl_s=[0.1] * 9),
        RequestRecord(ttft_s=0.30, e2e_s=2.10, output_tokens=7, prompt_tokens=20, itl_s=[0.3] * 6),
        RequestRecord(ttft_s=0.05, e2e_s=0.05, output_tokens=1, prompt_tokens=20),  # one token: no TPOT
        RequestRecord(error="boom", e2e_s=0.2),
    ]
    lv = level_figures(records, concurrency=4, duration_s=2.5, prompt_tokens=20, chips=8,
                       price_usd_per_chip_hour=2.0, slo_ttft_ms=200, slo_tpot_ms=200)
    assert (lv["completed"], lv["failed"]) == (3, 1)
    assert lv["output_tok_s"] == pytest.approx(18 / 2.5)
    assert lv["total_tok_s"] == pytest.approx((18 + 60) / 2.5)
    assert lv["output_tok_s_per_chip"] == pytest.approx(18 / 2.5 / 8)
    assert lv["request_throughput"] == pytest.approx(3 / 2.5)
    tpots = [(1.0 - 0.1) / 9 * 1000, (2.1 - 0.3) / 6 * 1000]
    assert lv["tpot_ms"]["mean"] == pytest.approx(np.mean(tpots))
    assert lv["tpot_ms"]["p99"] == pytest.approx(np.percentile(tpots, 99))
    assert lv["ttft_ms"]["p50"] == pytest.approx(100.0)
    gaps = [100.0] * 9 + [300.0] * 6
    assert lv["itl_ms"]["p50"] == pytest.approx(np.percentile(gaps, 50))
    assert lv["itl_ms"]["p99"] == pytest.approx(np.percentile(gaps, 99))
    # goodput: the first (TTFT 100 ms, TPOT 100 ms) and the one-token reply meet both SLOs
    assert lv["goodput_req_s"] == pytest.approx(2 / 2.5)
    assert lv["usd_per_m_output_tokens"] == pytest.approx(8 * 2.0 / (18 / 2.5 * 3600) * 1e6)
    assert len(lv["requests"]) == 4 and lv["requests"][3]["error"] == "boom"

"""The decode-step roofline against the reference note's §7 tables (hardware-perf.md).

The note computed its tables without the serving stack's per-layer latency
(``note_dep``, ``note_fit``); the shipped model adds it (tests/perf/test_stack_terms.py).
"""

import numpy as np
import pytest

from console.perf import IDEAL, decode_step, max_batch

# B / chip: (H100 tok/s, H100 TPOT ms, 950DT tok/s, 950DT TPOT ms), KV 2,000 (note §7 table)
NOTE_TABLE = {
    1: (46, 22.0, 54, 18.7),
    8: (323, 24.8, 375, 21.3),
    32: (1044, 30.6, 1176, 27.2),
    64: (1665, 38.4, 1760, 36.4),
    128: (2369, 54.0, 2053, 62.3),
    192: (2663, 72.1, 2068, 92.8),
    256: (2785, 91.9, 2076, 123.3),
}


def test_calibrated_table_matches_the_note(v3, note_dep, note_fit, h100, a950):
    batch = np.array(sorted(NOTE_TABLE), dtype=float)
    ours_h = decode_step(v3, h100, note_dep, batch, 2000, note_fit.eta, note_fit.overlap)
    ours_a = decode_step(v3, a950, note_dep, batch, 2000, note_fit.eta, note_fit.overlap)
    for i, b in enumerate(sorted(NOTE_TABLE)):
        h_tok, h_ms, a_tok, a_ms = NOTE_TABLE[b]
        assert ours_h.tokens_per_s[i] == pytest.approx(h_tok, rel=0.012, abs=0.6), b
        assert ours_h.step[i] * 1e3 == pytest.approx(h_ms, abs=0.06), b
        assert ours_a.tokens_per_s[i] == pytest.approx(a_tok, rel=0.012, abs=0.6), b
        assert ours_a.step[i] * 1e3 == pytest.approx(a_ms, abs=0.06), b


def test_breakdown_at_batch_128(v3, note_dep, note_fit, h100, a950):
    h = decode_step(v3, h100, note_dep, 128, 2000, note_fit.eta, note_fit.overlap).at(0)
    assert [round(op["ms"], 1) for op in h["ops"]] == [4.8, 3.0, 5.4]
    assert [op["bound"] for op in h["ops"]] == ["HBM", "HBM", "HBM"]
    assert round(h["compute_ms"], 1) == 36.1 and round(h["a2a_ms"], 1) == 30.3
    a = decode_step(v3, a950, note_dep, 128, 2000, note_fit.eta, note_fit.overlap).at(0)
    assert [round(op["ms"], 1) for op in a["ops"]] == [4.8, 6.0, 10.1]
    assert a["ops"][2]["bound"] == "compute" and a["ops"][2]["dtype"] == "bf16"  # BF16 MLA core limits the 950
    assert round(a["compute_ms"], 1) == 57.0 and round(a["a2a_ms"], 1) == 9.1


def test_h100_is_all_to_all_bound_at_the_fit_point(v3, dep, fit, h100):
    assert decode_step(v3, h100, dep, 256, 2000, fit.eta, fit.overlap).at(0)["bound"] == "all-to-all"


def test_one_point_by_hand(v3, note_dep, h100):
    """Independent arithmetic for H100, B=32, KV 2000, efficiency 1, no overlap."""
    d, k = 7168, 8
    p_touched = 1 - (1 - 1 / 288) ** (72 * 32 * k)
    replicated = 16.190954496e9 / 3.35e12
    routed = max(4 * 58 * 3 * d * 2048 * p_touched / 3.35e12, 32 * k * 58 * 2 * 3 * d * 2048 / 1979e12)
    attention = max(32 * 2000 * 576 * 2 * 61 / 3.35e12, 32 * 61 * 2 * 128 * 2000 * 1088 / 989e12)
    a2a = 58 * (32 * k * d * (71 / 72) * (1 / 43e9 + 2 / 46e9) + 40e-6)
    step = decode_step(v3, h100, note_dep, 32, 2000, 1.0, 0.0)
    assert step.step[0] == pytest.approx(replicated + routed + attention + a2a, rel=1e-9)


def test_ideal_bound_ratios(v3, note_dep, h100, a950):
    batch = np.array([1, 32, 128, 256], dtype=float)
    h = decode_step(v3, h100, note_dep, batch, 2000, IDEAL.eta, IDEAL.overlap)
    a = decode_step(v3, a950, note_dep, batch, 2000, IDEAL.eta, IDEAL.overlap)
    assert np.round(a.tokens_per_s / h.tokens_per_s, 2).tolist() == [1.19, 1.02, 1.45, 1.40]


def test_hbm_capacity_caps_the_h100_near_130_at_production_context(v3, dep, h100, a950):
    assert 125 <= max_batch(v3, h100, dep, 4989) <= 135
    assert max_batch(v3, a950, dep, 4989) >= 256  # the 950DT's 144 GB fits B=256
    assert max_batch(v3, h100, dep.replace(ep=8), 2000) == 0  # 256 experts on 8 chips do not fit in 80 GB


def test_more_batch_never_lowers_throughput_until_saturation(v3, dep, fit, h100):
    tok = decode_step(v3, h100, dep, np.arange(1, 300), 2000, fit.eta, fit.overlap).tokens_per_s
    assert np.all(np.diff(tok) > 0)

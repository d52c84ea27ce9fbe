"""The fit recovers the factors of synthetic runs the model itself made (round trips within 1%)."""

import json

import pytest

from console.perf.benchfile import bench_records
from console.perf.fitting import fit, fit_mfu, predict
from console.perf.own_runs import calibrate_to
from console.perf.records import record, record_from_table
from console.perf import reference_chip

TRUE = {"eta": 0.52, "overlap": 0.27, "mfu": 0.21}


def _synthetic(template: dict, batches, factors=TRUE):
    """Records whose measured figure is the model's own at ``factors``."""
    out = []
    for b in batches:
        entry = {**template, "batch_per_chip": b, "measured": 1.0}
        rec = record_from_table(f"synthetic-{b}", entry, "test")
        value = predict(rec, factors["eta"], factors["overlap"], factors["mfu"]).value
        out.append(record_from_table(f"synthetic-{b}", {**entry, "measured": value}, "test"))
    return out


DECODE = {"run": "synthetic", "hardware": "h100", "model": "deepseek-v3", "phase": "decode",
          "metric": "output_tok_s_per_chip", "source": "made by the model", "context": 2000, "ep": 72,
          "redundant_experts": 32}


def test_fit_recovers_eta_and_overlap_from_a_synthetic_sweep():
    recs = _synthetic(DECODE, (16, 64, 128, 256))
    got = fit(recs, {"eta": 0.3, "overlap": 0.6, "mfu": 0.3}, ("eta", "overlap"))
    assert got["eta"] == pytest.approx(TRUE["eta"], rel=0.01)
    assert got["overlap"] == pytest.approx(TRUE["overlap"], rel=0.01)


def test_fit_recovers_mfu_from_aggregated_runs_and_prefill():
    agg = {**DECODE, "serving": "aggregated", "prompt_tokens": 4000, "output_tokens": 400, "ep": 8, "tp": 8,
           "moe_parallel": "tp", "redundant_experts": 0, "hardware": "h200"}
    recs = _synthetic(agg, (1, 8, 32, 64))
    got = fit(recs, {"eta": 0.3, "overlap": TRUE["overlap"], "mfu": 0.5}, ("eta", "mfu"))
    assert (got["eta"], got["mfu"]) == (pytest.approx(TRUE["eta"], rel=0.01), pytest.approx(TRUE["mfu"], rel=0.01))
    pre = record("sglang-32xh100-prefill-2k")
    fake = record_from_table("p", {**{k: getattr(pre, k) for k in ("run", "hardware", "model", "phase", "metric",
                                                                    "source", "prompt_tokens")},
                                   "measured": predict(pre, 1, 1, 0.33).value}, "test")
    assert fit_mfu([fake]) == pytest.approx(0.33, rel=1e-9)


def test_shipped_tbo_pair_fit_is_exact():
    recs = [record("sglang-96xh100-decode-tbo"), record("sglang-96xh100-decode-no-tbo")]
    got = fit(recs, {"eta": 0.5, "overlap": 0.5, "mfu": 0.3})
    for r in recs:
        assert predict(r, got["eta"], got["overlap"], 0.3).value == pytest.approx(r.measured, rel=1e-9)


def _bench_file(tmp_path, factors):
    """A bench-serve result (CONTRACTS.md §2) whose figures the model made at ``factors``."""
    levels = []
    template = {"run": "x", "hardware": "h100", "model": "deepseek-v3", "phase": "decode", "source": "s",
                "serving": "aggregated", "prompt_tokens": 512, "output_tokens": 128, "context": 576,
                "tp": 8, "ep": 8, "moe_parallel": "tp", "redundant_experts": 0, "measured": 1.0}
    template["hardware"] = "h200"
    for conc in (1, 4, 16, 64):
        thr = record_from_table("t", {**template, "metric": "output_tok_s_per_chip", "batch_per_chip": conc / 8}, "x")
        tpot = record_from_table("p", {**template, "metric": "tpot_ms", "batch_per_chip": conc / 8}, "x")
        per_chip = predict(thr, factors["eta"], factors["overlap"], factors["mfu"]).value
        tpot_ms = predict(tpot, factors["eta"], factors["overlap"], factors["mfu"]).value
        levels.append({"concurrency": conc, "completed": 32, "failed": 0, "output_tok_s": per_chip * 8,
                       "output_tok_s_per_chip": per_chip, "tpot_ms": {"mean": tpot_ms, "p50": tpot_ms, "p99": tpot_ms}})
    content = {"schema": "moe-console/bench-serve/1", "created": "2026-12-01T10:00:00Z",
               "workload": {"prompt_tokens": 512, "output_tokens": 128, "requests": 32, "concurrency": [1, 4, 16, 64]},
               "endpoints": [{"name": "a", "url": "http://127.0.0.1:8000/v1", "model": "builtin",
                              "server": {"kind": "vllm", "version": "0.11"}, "hardware": "h200", "chips": 8,
                              "price_usd_per_chip_hour": 2.35, "levels": levels}]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(content))
    return path


def test_calibrate_recovers_known_factors_from_a_synthetic_bench_result(tmp_path):
    path = _bench_file(tmp_path, TRUE)
    got = calibrate_to(path, "deepseek-v3", {}, reference_chip)["h200"]
    f = got["factors"]
    assert f.eta == pytest.approx(TRUE["eta"], rel=0.01) and f.overlap == pytest.approx(TRUE["overlap"], rel=0.01)
    assert f.mfu == pytest.approx(TRUE["mfu"], rel=0.01)
    assert got["error_after"] < 1e-3 < got["error_before"]
    assert got["moved"]["eta"]["from"] == pytest.approx(0.3709, abs=1e-3)


def test_bench_records_normalise_per_chip_and_say_when_hardware_is_missing(tmp_path):
    content = json.loads(_bench_file(tmp_path, TRUE).read_text())
    recs = bench_records(content, "deepseek-v3")
    assert len(recs) == 8 and {r.metric for r in recs} == {"output_tok_s_per_chip", "tpot_ms"}
    assert recs[0].batch_per_chip == 1 / 8 and recs[0].kind == "user" and recs[0].who.startswith("you (a: vllm")
    content["endpoints"][0]["hardware"] = None
    assert all("does not say which hardware" in r.unmatched for r in bench_records(content, "deepseek-v3"))

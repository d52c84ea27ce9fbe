"""``moe-console bench`` on a tiny reference checkpoint (fast settings).

The figures themselves are machine-dependent; these tests check that one run
measures everything it promises, that the ratios are computed from the
measured figures, and that bad input gets one line and exit status 2.
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from console.cli import main
from console.enginebench import blas_threads

CASE = Path(__file__).resolve().parents[1] / "fixtures" / "reference" / "v3_qlora_yarn_interleave_groups"
FAST = ["--tokens", "4", "--batch", "3", "--prefill", "16", "--reps", "1"]


def test_bench_json_reports_every_figure_and_ratio(capsys):
    before = blas_threads()
    assert main(["bench", "--engine", str(CASE), "--json", "--reference", "off", *FAST, "--reps", "2",
                 "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["threads"] == 1
    assert blas_threads() == before  # --threads is restored after the run

    for key in ("decode", "prefill", "loop_batch1", "loop_batch"):
        assert result[key]["tok_s"] > 0, key
    assert result["prefill"]["tokens"] == 16
    assert result["loop_batch"]["batch"] == 3
    assert result["params"] > 0 and result["threads"] >= 1
    assert result["matvec_bytes_s"] > 1e8
    assert result["kv_bytes_per_token"] > 0
    assert result["weight_bytes_per_token"] > 0
    assert result["weight_bytes_per_step_batch"] >= result["weight_bytes_per_token"]

    # figures are the best of the rounds; ratios the median of in-round ratios
    assert len(result["decode"]["runs"]) == len(result["matvec_runs"]) == 2
    assert result["decode"]["tok_s"] == max(result["decode"]["runs"])
    ratios = result["ratios"]
    assert ratios["bandwidth_fraction"] == pytest.approx(np.median(
        [result["weight_bytes_per_token"] * d / m
         for d, m in zip(result["decode"]["runs"], result["matvec_runs"])]))
    assert ratios["batch_speedup"] == pytest.approx(np.median(
        [b / one for b, one in zip(result["loop_batch"]["runs"], result["loop_batch1"]["runs"])]))
    assert ratios["engine_vs_transformers"] is None
    assert result["reference"] == {"available": False, "reason": "disabled (--reference off)"}
    assert {t["ratio"] for t in result["targets"]} == {
        "engine_vs_transformers", "bandwidth_fraction", "batch_speedup"}


def test_bench_text_report_prints_the_ratios(capsys):
    assert main(["bench", "--engine", str(CASE), "--reference", "off", *FAST]) == 0
    out = capsys.readouterr().out
    assert "engine / transformers" in out and "achieved / matvec bandwidth" in out
    assert "batch 3 / batch 1" in out and "goal >=" in out


@pytest.mark.parametrize("argv, message", [
    (["--engine", "/no/such/folder"], "no checkpoint folder at /no/such/folder"),
    (["--engine", str(CASE), "--tokens", "1"], "--tokens must be at least 2"),
])
def test_bench_bad_input_is_one_line(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bench_bad_checkpoint_is_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{not json")
    assert main(["bench", "--engine", str(tmp_path), "--reference", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.skipif(find_spec("torch") is not None, reason="this interpreter has torch")
def test_bench_reference_on_without_torch_is_one_line(capsys, monkeypatch):
    monkeypatch.delenv("MOE_CONSOLE_REFERENCE_PYTHON", raising=False)
    assert main(["bench", "--engine", str(CASE), "--reference", "on", *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert "not importable" in err and len(err.splitlines()) == 1

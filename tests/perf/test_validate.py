"""validate: every shipped run against the model, errors computed independently, summary."""

import json
import re
import statistics
from pathlib import Path

import pytest

from console import perf
from console.cli import main
from console.perf.calibration import calibration_runs
from console.perf.fitting import predict
from console.perf.ranges import point_factors
from console.perf.records import records


@pytest.fixture(scope="module")
def report():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["validate", "--json"]) == 0
    return json.loads(out.getvalue())


def _expected_error(rec):
    """The model's error on one run, computed here from the calibration functions."""
    import tomllib

    chip = perf.reference_chip(rec.hardware)
    stacks = tomllib.loads((Path(perf.__file__).parent / "data" / "stacks.toml").read_text(encoding="utf-8"))
    name = rec.calibration or (stacks[rec.stack].get("calibration") if rec.stack else None)
    f = perf.calibration(name) if name else point_factors(chip, rec.model)
    return predict(rec, f.eta, f.overlap, f.mfu).value / rec.measured - 1


def test_every_shipped_run_is_reported_with_the_error_the_model_gives(report):
    by_id = {r["id"]: r for r in report["runs"]}
    assert list(by_id) == [r.id for r in records()]
    fitted = {rid for name in perf.calibration_names() for rid in calibration_runs(name)}
    fitted |= {"cann-950dt-v4flash-native-b96"}  # stacks.toml: the cann-recipes block-FP8 share
    for rec in records():
        row = by_id[rec.id]
        if not rec.matched:
            assert row["status"] == "unmatched" and row["why"] == rec.unmatched and row["error"] is None
            continue
        assert row["status"] == ("fitted" if rec.id in fitted else "held-out"), rec.id
        assert row["error"] == pytest.approx(_expected_error(rec), rel=1e-9, abs=1e-12), rec.id
        if rec.id in fitted and rec.phase == "decode":
            assert abs(row["error"]) < 1e-6, rec.id  # each calibration reproduces its own runs


def test_summary_is_the_median_and_worst_of_the_held_out_errors(report):
    held = [abs(r["error"]) for r in report["runs"] if r["status"] == "held-out"]
    s = report["summary"]["held_out"]
    assert s["runs"] == len(held) >= 25
    assert s["median"] == pytest.approx(statistics.median(held)) and s["worst"] == pytest.approx(max(held))
    assert report["summary"]["targets"]["median_met"] == (s["median"] <= 0.15)
    fam = report["summary"]["held_out_by_family"]
    assert {"NVIDIA Hopper", "NVIDIA Blackwell", "AMD CDNA3", "Huawei Ascend 910C", "Huawei Ascend 950"} <= set(fam)
    assert set(report["summary"]["held_out_by_model"]) == {"deepseek-v3", "deepseek-v4-flash", "deepseek-v4-pro"}


def test_readme_shows_the_summary_validate_prints(report):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    s = report["summary"]["held_out"]
    line = f"held-out: median {s['median']:.0%}, worst {s['worst']:.0%} over {s['runs']} runs"
    assert line in readme
    for row in report["runs"]:
        if row["status"] != "unmatched":
            pattern = rf"\|\s*{re.escape(row['id'])}\s*\|.*\|\s*{re.escape(format(row['error'], '+.0%'))}\s*\|"
            assert re.search(pattern, readme), row["id"]


def test_text_output_lists_unmatched_runs_with_reasons(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "not matched (listed, never scored):" in out and "DSA sparse attention" in out
    assert max(len(line) for line in out.splitlines()) <= 120
    assert re.search(r"held-out: median \d+%, worst \d+% over \d+ runs \(targets", out)


def test_runs_file_in_the_shipped_format(tmp_path, capsys):
    runs = tmp_path / "mine.toml"
    runs.write_text('[my-h100]\nrun = "mine"\nhardware = "h100"\nmodel = "deepseek-v3"\nphase = "decode"\n'
                    'metric = "output_tok_s_per_chip"\nmeasured = 2785.25\nbatch_per_chip = 256\ncontext = 2000\n'
                    'ep = 72\nredundant_experts = 32\nsource = "the shipped fit point, again"\n')
    assert main(["validate", "--json", "--runs", str(runs)]) == 0
    row = json.loads(capsys.readouterr().out)["runs"][0]
    assert row["status"] == "held-out" and abs(row["error"]) < 1e-6


@pytest.mark.parametrize("content, message", [
    ('[x]\nrun = "x"\n', "missing key(s)"),
    ('[x]\nrun = "x"\nhardware = "h100"\nmodel = "deepseek-v3"\nphase = "decode"\nmetric = "tok"\n'
     'measured = 1\nsource = "s"\nbatch_per_chip = 1\ncontext = 1\n', "metric must be one of"),
    ('[x]\nbogus = 1\n', "unknown key(s) bogus"),
    ("not toml [", "runs.toml"),
])
def test_bad_runs_file_is_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "runs.toml"
    path.write_text(content)
    assert main(["validate", "--runs", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and (message in err or "runs.toml" in err)

"""compare: 8+ hardware columns in 120, declared figures in --explain/--json, published and user measurements."""

import json

import pytest

from console.cli import main
from tests.perf.test_fitting import TRUE, _bench_file

EIGHT = "h100,ascend950,ascend950pr,h200,h20,b200,gb200,mi300x"


@pytest.fixture(autouse=True)
def _no_user_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path))
    for var in ("MOE_CONSOLE_PRICES", "MOE_CONSOLE_PLUGINS", "MOE_CONSOLE_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


def test_eight_hardware_columns_fit_120_columns(capsys):
    assert main(["compare", "--backends", EIGHT, "--explain"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120
    for name in EIGHT.split(","):
        assert name in out
    assert out.count("figure   ") >= 2  # the table wrapped into blocks, each repeating the row titles


def test_every_declared_figure_is_shown_with_tag_and_source(capsys):
    assert main(["compare", "--backends", "h100,mi300x", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "scale_up_gbps" in out and "power_w" in out and "scale_out_gbps" in out
    assert "power_w 750 W spec AMD Instinct MI300X figures as quoted by aiwiki.ai" in " ".join(out.split())
    assert "all-to-all assumed, not measured" in " ".join(out.split())  # MI300X's a2a is an assumption
    assert main(["compare", "--json", "--backends", "h100,mi300x", "--explain"]) == 0
    data = json.loads(capsys.readouterr().out)
    figs = data["explain"]["figures"]["mi300x"]
    assert figs["a2a_gbps"]["tag"] == "assumption" and figs["power_w"]["value"] == 750


def test_published_measurement_is_labelled_and_never_our_own(capsys):
    args = ["--model", "deepseek-v4-flash", "--context", "8192", "--ep", "16", "--redundant-experts", "0",
            "--concurrency", "96", "--mtp", "1:0.7", "--expert-balance", "forced", "--backends", "h100,ascend950"]
    assert main(["compare", *args]) == 0
    out = capsys.readouterr().out
    assert "published (not ours)" in out and "5,831 tok/s/chip [m" in out
    assert "measured by Huawei CANN (cann-recipes-infer) (vendor offline, forced balance, MTP1)" in out
    assert main(["compare", "--json", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    pub = data["published"]["ascend950"]
    assert pub["id"] == "cann-950dt-v4flash-b96" and pub["label"].startswith("measured by ")
    # the 950's V4-Flash point is the calibration measured on it: it reproduces the run
    assert data["backends"]["ascend950"]["figures"]["tokens_per_s_per_chip"]["value"] == pytest.approx(5831, rel=1e-4)
    assert "calibrated to CANN 16x950DT V4-Flash on this chip" in data["backends"]["ascend950"]["label"]


def test_measured_column_from_a_bench_serve_result(tmp_path, capsys):
    from console.perf import calibration

    fit = calibration("sglang-96xh100")  # the factors the h200 is modeled with
    path = _bench_file(tmp_path, {"eta": fit.eta, "overlap": fit.overlap, "mfu": fit.mfu})
    assert main(["compare", "--backends", "h200", "--measured", str(path)]) == 0
    out = capsys.readouterr().out
    assert "measured figures of your run beside the model" in out and "measured by you (a: vllm 0.11" in out
    assert main(["compare", "--json", "--backends", "h200", "--measured", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)["measured"]
    assert len(rows) == 8 and all(abs(r["error"]) < 1e-3 for r in rows)  # the model made them with its own factors


def test_calibrate_moves_the_factors_and_models_the_hardware_with_them(tmp_path, capsys):
    path = _bench_file(tmp_path, TRUE)
    assert main(["compare", "--backends", "h200", "--calibrate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "calibrated h200 to your measured run" in out and "eta 0.371 -> 0.520" in out
    assert main(["compare", "--json", "--backends", "h200", "--calibrate", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calibration"]["h200"]["factors"]["eta"] == pytest.approx(TRUE["eta"], rel=0.01)
    assert "calibrated to your run bench.json" in data["backends"]["h200"]["label"]


@pytest.mark.parametrize("content, message", [
    ("{", "not a bench-serve JSON file"),
    ('{"schema": "other"}', "expected schema"),
])
def test_bad_measured_file_is_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["compare", "--measured", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err

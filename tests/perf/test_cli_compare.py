"""``moe-console compare``: figures per backend, ratios, press column, explain, JSON, bad input."""

import json

import pytest

from console.cli import main


@pytest.fixture(autouse=True)
def _no_user_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path))
    monkeypatch.delenv("MOE_CONSOLE_PRICES", raising=False)
    monkeypatch.delenv("MOE_CONSOLE_PLUGINS", raising=False)
    monkeypatch.delenv("MOE_CONSOLE_DISABLE_PLUGINS", raising=False)


def _json(capsys, *args):
    assert main(["compare", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_default_compares_every_registered_hardware(capsys):
    data = _json(capsys)
    assert {"h100", "ascend950", "ascend950pr"} <= set(data["backends"])
    h = data["backends"]["h100"]["figures"]
    assert h["tokens_per_s_per_chip"]["value"] == pytest.approx(2365, abs=2)  # note: 2,369 without the stack latency
    assert h["ttft_ms"]["value"] == pytest.approx(293, abs=1)
    assert h["tokens_per_s_per_chip"]["label"] == "modeled (calibrated to SGLang 96xH100, eta=0.37, overlap=0.41)"
    r = data["ratios"]["ascend950"]["throughput_per_chip"]
    assert (round(r["value"], 2), round(r["low"], 2), round(r["high"], 2)) == (0.87, 0.63, 1.22)  # see test_compare
    assert data["press"]["heading"] == "reported by the press, not measured"


def test_tpot_target_and_v4_model(capsys):
    data = _json(capsys, "--tpot-ms", "50", "--backends", "h100,ascend950")
    assert data["backends"]["h100"]["batch_per_chip"] == 110  # note: 111 without the stack latency
    v4 = _json(capsys, "--model", "deepseek-v4-pro", "--backends", "h100")
    assert v4["model"]["name"] == "deepseek-v4-pro" and v4["ratios"] == {}


def test_prices_from_flag_and_file(capsys, tmp_path):
    base = _json(capsys, "--backends", "h100")["backends"]["h100"]["figures"]["usd_per_m_output"]["value"]
    doubled = _json(capsys, "--backends", "h100", "--price", "h100=4.70")
    assert doubled["backends"]["h100"]["figures"]["usd_per_m_output"]["value"] == pytest.approx(2 * base)
    prices = tmp_path / "my-prices.toml"
    prices.write_text('[h100]\nusd_per_hour = 1.175\ndate = "2026-07-01"\nsource = "quote"\n')
    halved = _json(capsys, "--backends", "h100", "--prices", str(prices))
    assert halved["backends"]["h100"]["figures"]["usd_per_m_output"]["value"] == pytest.approx(base / 2)
    assert halved["backends"]["h100"]["price"]["date"] == "2026-07-01"


def test_text_output_with_explain(capsys):
    assert main(["compare", "--backends", "ascend950,h100", "--concurrency", "128", "--explain"]) == 0
    out = capsys.readouterr().out
    assert out.index("NVIDIA H100 SXM") < out.index("Huawei Ascend 950DT")  # baseline column first
    assert "reported by the press, not measured" in out and "≈82% of H100 throughput" in out
    assert "what drives ascend950 / h100" in out and "attention core" in out
    assert "modeled (ideal)" in out and "0.87 [0.63-1.22]" in out


def test_figure_table_fits_120_columns_and_spells_out_every_label(capsys):
    assert main(["compare", "--backends", "h100,ascend950,ascend950pr"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120
    table = out.split("\n\n")[1].splitlines()
    label_row = next(line for line in table if line.startswith("label"))
    assert label_row.split()[1:] == ["[1]", "[2]", "[2]"]  # one footnote per distinct label
    assert "[1] modeled (calibrated to SGLang 96xH100, eta=0.37, overlap=0.41)" in table
    assert any(line.startswith("[2] modeled (calibrated by analogy to SGLang 96xH100") for line in table)
    assert any(line.startswith("[3] modeled (ideal): eta=1, full overlap, MFU=1") for line in table)
    ideal_tpot = next(line for line in table if line.startswith("ideal [3]: TPOT")).split()[3:]
    assert ideal_tpot == ["30.9", "ms", "21.5", "ms", "28.4", "ms"]  # the note's 30.3 / 20.9 / 27.7 + 61 x 10 us


@pytest.mark.parametrize("args, message", [
    (["--backends", "h100,nope"], "not a modeled hardware backend: nope"),
    (["--backends", "local"], "not a modeled hardware backend: local"),
    (["--model", "gpt-9"], "unknown target model 'gpt-9'"),
    (["--concurrency", "0"], "concurrency must be >= 1"),
    (["--price", "h100"], "--price expects NAME=USD"),
    (["--baseline", "tpu"], "baseline 'tpu' is not among"),
    (["--ep", "8", "--backends", "h100"], "does not fit"),
    (["--utilization", "0"], "utilization must be in"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err

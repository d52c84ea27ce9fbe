"""The comparison: labels, ranges for the 950, ratios, press column, sensitivity table."""

import json

import pytest

from console.perf import PRESS_HEADING, Workload, compare, table_price
from console.perf.report import explain_lines, figure_table, ratio_table

# note §7 "What drives the ratio" (B=128, KV 2,000): scenario -> 950DT / H100 throughput.
# The shipped model adds the serving stack's 10 us per layer to every step (the note had none):
# each ratio stays within 0.01 of the note's, except eta-910c (MOVED, below).
NOTE_SENSITIVITY = {
    "baseline": 0.87, "announced-peaks": 0.99, "attention-fp8": 1.11, "eta-910c": 0.96,
    "eta-30pct-worse": 0.62, "a2a-910c-measured": 0.79, "a2a-16x-link": 0.91,
    "decode-on-950pr": 0.67, "context-longer": 0.73, "baseline-nvlink-a2a": 0.68,
}


@pytest.fixture(scope="module")
def at128(v3, dep, h100, a950):
    prices = {c: table_price(c) for c in ("h100", "ascend950dt")}
    return compare(v3, [a950, h100], dep, Workload(context=2000, concurrency=128), prices, explain=True)


def test_h100_is_the_baseline_and_carries_its_calibration_label(at128):
    assert at128.baseline == "h100"
    h = at128.results["h100"]
    assert h.label == "modeled (calibrated to SGLang 96xH100, eta=0.37, overlap=0.41)"
    assert all(not f.has_range for f in h.figures().values())  # calibrated: a point
    assert h.ideal.label == "modeled (ideal)"


def test_950_is_a_range_labelled_by_analogy(at128):
    a = at128.results["ascend950dt"]
    assert a.label.startswith("modeled (calibrated by analogy to SGLang 96xH100")
    assert "range over 9 sensitivities" in a.label
    for name, fig in a.figures().items():
        assert fig.low <= fig.value <= fig.high, name
    assert a.figures()["tokens_per_s_per_chip"].has_range


def test_ratios_and_their_range_match_the_note(at128):
    r = at128.ratios["ascend950dt"]
    thr = r["throughput_per_chip"]
    # note: 0.87 [0.62-1.11]; the top of the range is now the eta-910c scenario (see below)
    assert (round(thr.value, 2), round(thr.low, 2), round(thr.high, 2)) == (0.87, 0.63, 1.22)
    assert round(r["tpot"].value, 2) == 1.15
    assert r["cost_per_m_output"].value == pytest.approx(0.87, abs=0.011)  # price 0.75x
    assert (round(r["ttft"].value, 2), round(r["ttft"].low, 2)) == (2.29, 0.89)


def test_sensitivity_table_matches_the_note(at128):
    rows = {row.id: row for row in at128.sensitivity["ascend950dt"]}
    for sid, ratio in NOTE_SENSITIVITY.items():
        if sid != "eta-910c":
            assert rows[sid].ratios["throughput_per_chip"] == pytest.approx(ratio, abs=0.011), sid
    # MOVED: the 910C efficiency is refitted with each die reading its own replicated weights
    # (eta 0.41 -> 0.54, tests/perf/test_calibration.py); a 950 stack that good gives 1.22, not 0.96
    assert round(rows["eta-910c"].ratios["throughput_per_chip"], 2) == 1.22
    assert not rows["context-longer"].in_range and rows["eta-30pct-worse"].in_range


def test_press_claims_only_in_their_own_column(at128):
    claims = at128.press["ascend950dt"]
    assert claims["throughput_per_chip"]["value"] == 0.82 and "h100" not in at128.press
    columns, rows = ratio_table(at128, "ascend950dt")
    assert columns[2] == PRESS_HEADING == "reported by the press, not measured"
    assert any("82%" in row[2] for row in rows) and not any("82%" in row[1] for row in rows)
    _, figure_rows, notes = figure_table(at128)
    assert not any("82%" in cell or "40% lower" in cell for row in [*figure_rows, notes] for cell in row)


def test_json_view_is_serializable_and_complete(at128):
    data = json.loads(json.dumps(at128.as_dict(explain=True)))
    assert data["backends"]["h100"]["figures"]["tokens_per_s_per_chip"]["label"].startswith("modeled (calibrated")
    assert data["ratios"]["ascend950dt"]["throughput_per_chip"]["low"] < 0.7
    assert data["press"]["heading"] == PRESS_HEADING
    assert data["explain"]["breakdown"]["ascend950dt"]["step"]["ops"][2]["bound"] == "compute"


def test_explain_names_the_bounds(at128):
    text = "\n".join(explain_lines(at128))
    assert "all-to-all" in text and "attention core" in text and "sglang-96xh100-decode-tbo" in text


def test_ratios_at_small_and_large_batch(v3, dep, h100, a950):
    for batch, ratio in ((1, 1.18), (32, 1.13), (256, 0.75)):  # the note's
        c = compare(v3, [h100, a950], dep, Workload(context=2000, concurrency=batch))
        assert c.ratios["ascend950dt"]["throughput_per_chip"].value == pytest.approx(ratio, abs=0.011)

"""Pure helpers of the TUI: heat map, number formatting, the sampling form's
parser, compare figures. No app needed."""

from __future__ import annotations

import pytest

from console.api import Cost, Sampling, Timing, Usage
from console.conversation import CompareResult
from console.tui.compare_figures import figure_rows
from console.tui.screens.sampling import parse_sampling
from console.tui.widgets import format as fmt
from console.tui.widgets.heatmap import SHADES, render_heatmap


def test_heatmap_rows_are_layers_and_intensity_follows_counts():
    text = render_heatmap([[0, 1, 4, 8], [8, 0, 0, 0]], layers=(3, 4), width=12)
    lines = text.plain.splitlines()
    assert [line.split()[0] for line in lines] == ["L3", "L4"]
    cells3 = lines[0][-4:]
    assert cells3[0] == SHADES[0] and cells3[3] == SHADES[-1]
    assert SHADES.index(cells3[1]) < SHADES.index(cells3[2]) < SHADES.index(cells3[3])


def test_heatmap_buckets_many_experts_and_layers_to_fit():
    counts = [[1] * 256 for _ in range(61)]
    text = render_heatmap(counts, layers=tuple(range(3, 64)), width=30, max_rows=8)
    lines = text.plain.splitlines()
    assert len(lines) == 8
    assert all(len(line) <= 30 for line in lines)
    assert lines[0].startswith("L3-") and lines[-1].split()[0].endswith("-63")


def test_heatmap_marks_hash_routed_layers_and_scales_them_apart():
    """DeepSeek-V4's first layers route by a token-id table: marked, with a legend, and
    their (token-driven) counts do not set the colour scale of the router-chosen rows."""
    text = render_heatmap([[40, 0, 0, 0], [0, 1, 2, 4]], layers=(0, 1), width=12, hash_layers=(0,))
    lines = text.plain.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["L0#", "L1"]
    assert lines[1][-1] == SHADES[-1]  # layer 1's hottest cell is the map's hottest routed cell
    assert lines[-1] == "# hash-routed: fixed token-id table, not router choice"
    assert "#" not in render_heatmap([[1, 2]], layers=(5,)).plain


def test_imbalance_leaves_out_hash_routed_layers():
    from console.api import RoutingStats
    from console.metrics import Metrics

    metrics = Metrics(clock=lambda: 0.0)
    for token in range(4):
        metrics.observe(RoutingStats(layers=(0, 1), experts=((0,), (token % 2,)), n_routed_experts=4,
                                     hash_layers=(0,)), backend="v4")
    routing = metrics.snapshot("v4").routing
    assert routing.hash_layers == (0,)
    assert routing.imbalance[0] == 0.0 and routing.max_imbalance == pytest.approx(2.0)


def test_heatmap_without_data_says_so():
    assert render_heatmap([]).plain == "no routing yet"
    assert render_heatmap([[0, 0], [0, 0]]).plain == "no routing yet"


def test_formatting_never_shows_unknown_as_zero():
    assert fmt.ms(None) == fmt.DASH and fmt.rate(None) == fmt.DASH and fmt.usd(None) == fmt.DASH
    assert fmt.ms(0.0123) == "12.3 ms" and fmt.ms(0.25) == "250 ms" and fmt.ms(12.5) == "12.5 s"
    assert fmt.ms(0.0123, unit=False) == "12.3"
    assert fmt.usd(0) == "$0" and fmt.usd(0.5) == "$0.5000" and fmt.usd(3e-6) == "$3.00e-06"
    assert fmt.bar(5, 10, 10) == "█" * 5 + "░" * 5 and fmt.pct(1, None) == fmt.DASH


def test_label_markup_tells_measured_from_modeled_and_escapes():
    assert "$success" in fmt.label_markup("measured")
    modeled = fmt.label_markup("modeled (calibrated to [SGLang] 96xH100)")
    assert "$warning" in modeled and r"\[SGLang]" in modeled


def test_sampling_form_parses_and_names_the_bad_field():
    base = Sampling(max_tokens=256, temperature=0.7, seed=None)
    got = parse_sampling(base, {"temperature": "0", "top_p": "0.9", "top_k": "40", "max_tokens": "64",
                                "seed": "123"})
    assert got == Sampling(max_tokens=64, temperature=0.0, top_p=0.9, top_k=40, seed=123)
    assert parse_sampling(base, {"seed": " "}).seed is None
    with pytest.raises(ValueError, match="Top-p: must be in"):
        parse_sampling(base, {"top_p": "1.5"})
    with pytest.raises(ValueError, match="Max tokens: 'lots' is not a number"):
        parse_sampling(base, {"max_tokens": "lots"})
    with pytest.raises(ValueError, match="Temperature"):
        parse_sampling(base, {"temperature": "-1"})


def test_compare_figures_match_the_timing_they_come_from():
    timing = Timing(ttft_s=0.2, e2e_s=1.2, inter_token_s=(0.01, 0.02, 0.03, 0.04, 0.10),
                    decode_s=0.2, clock="modeled", label="modeled (x)")
    cost = Cost(1e-6, 4e-6, 0.5, 2.0, 2.49, "2025-06-01", "list price")
    rows = dict(figure_rows(CompareResult("h100", "hi", "complete", "m", Usage(10, 6), timing, cost)))
    assert rows["TTFT"] == "200 ms"
    assert rows["decode tok/s"] == "25.0"  # 5 gaps over 0.2 s
    assert rows["ITL p50"] == "30.0 ms"
    assert rows["ITL p95"] == "88.0 ms"  # numpy-style linear interpolation: 0.04 + 0.8 * 0.06
    assert rows["tokens in/out"] == "10 / 6"
    assert rows["this reply"] == "$5.00e-06"
    assert rows["price"] == "$2.49/chip-h (2025-06-01)"

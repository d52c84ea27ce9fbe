"""HardwareSpec validation (CONTRACTS.md §4): one clear message per wrong figure."""

import tomllib
from pathlib import Path

import pytest

import moe_console_ascend910c
import moe_console_blackwell
import moe_console_h20
import moe_console_h200
import moe_console_mi300x
from console import perf
from console.api import CALIBRATIONS, Figure, HardwareSpec, spec_problems
from console.modeled import chip_from_spec

NEW = (moe_console_h200, moe_console_h20, moe_console_blackwell, moe_console_mi300x, moe_console_ascend910c)


def _spec(**changes):
    base = dict(name="x1", display_name="X1", vendor="X", peak_tflops={"bf16": Figure(100, "TFLOPS", "s")},
                hbm_gb=Figure(64, "GB", "s"), hbm_tbps=Figure(2, "TB/s", "s"), scale_up_gbps=Figure(1, "GB/s", "s"),
                scale_out_gbps=Figure(1, "GB/s", "s"), a2a_gbps=Figure(50, "GB/s", "s"),
                price_usd_per_hour=Figure(1, "USD/h", "s"))
    return HardwareSpec(**{**base, **changes})


def test_a_good_spec_has_no_problems_and_integer_peaks_are_in_tops():
    assert spec_problems(_spec()) == []
    assert spec_problems(_spec(peak_tflops={"bf16": Figure(100, "TFLOPS", "s"), "int8": Figure(400, "TOPS", "s")})) == []
    assert spec_problems(_spec(price_usd_per_hour=Figure(0, "USD/h", "free"))) == []


def test_each_wrong_figure_gets_its_own_message():
    bad = _spec(peak_tflops={"int8": Figure(400, "TFLOPS", "s"), "fp6": Figure(1, "TFLOPS", "s")},
                hbm_gb=Figure(-1, "GB", "s"), hbm_tbps=Figure(2000, "GB/s", "s"),
                scale_up_gbps=Figure(900, "GB/s", "", tag="spec"), power_w=Figure(700, "W", "s", tag="rumour"),
                calibration="nope")
    problems = spec_problems(bad)
    expected = ["peak_tflops['int8'] must be in TOPS", "peak_tflops['fp6']: unknown format",
                "hbm_gb must be a positive number", "hbm_tbps must be in TB/s", "scale_up_gbps has no source",
                "power_w has tag 'rumour'", "names unknown calibration 'nope'"]
    assert len(problems) == len(expected)
    for message, problem in zip(expected, problems):
        assert message in problem and problem.startswith("hardware 'x1': ") and "\n" not in problem


def test_not_a_spec_and_empty_peaks():
    assert spec_problems(object()) == ["expected a console.api.HardwareSpec, got object"]
    assert "declares no peak_tflops" in spec_problems(_spec(peak_tflops={}))[0]


def test_calibration_names_are_reachable_from_the_api_and_match_the_model():
    assert set(CALIBRATIONS) == set(perf.calibration_names())


def _registered(module):
    specs = []
    module.register_hardware(specs.append)
    return specs


@pytest.mark.parametrize("module", NEW, ids=lambda m: m.__name__)
def test_new_chip_plugins_are_valid_and_agree_with_the_reference_chips(module):
    assert module.MOE_CONSOLE_API == "1.0"
    for spec in _registered(module):
        assert spec_problems(spec) == []
        ours, ref = chip_from_spec(spec), perf.reference_chip(spec.name)
        assert ours.peak_tflops == ref.peak_tflops and (ours.hbm_gb, ours.hbm_tbps) == (ref.hbm_gb, ref.hbm_tbps)
        assert ours.scale_up_gbps == ref.scale_up_gbps and ours.calibration == ref.calibration
        byte_weighted = 3 / (1 / ref.a2a.dispatch_gbps + 2 / ref.a2a.combine_gbps)
        assert ours.a2a.dispatch_gbps == pytest.approx(byte_weighted, rel=0.002)
        assert ours.a2a_assumed == ref.a2a_assumed


def test_plugins_are_registered_by_entry_point():
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    points = project["project"]["entry-points"]["moe_console"]
    assert {m.__name__ for m in NEW} <= set(points.values())


def test_the_host_refuses_a_bad_spec_and_keeps_the_plugins_other_specs(tmp_path, monkeypatch):
    from console.plugins import PluginHost

    host = PluginHost.discover(allow=["blackwell"])
    record = host.plugin("blackwell")
    good, bad = _registered(moe_console_blackwell)
    broken = HardwareSpec(**{**bad.__dict__, "hbm_tbps": Figure(8000, "GB/s", "s")})
    monkeypatch.setattr(moe_console_blackwell, "GB200", broken)
    host.load_all()
    assert record.status == "loaded" and record.hardware == ("b200",)
    assert "refused hardware 'gb200': hbm_tbps must be in TB/s" in record.error
    assert "b200" in {e.name for e in host.backends()}

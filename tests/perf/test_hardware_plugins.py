"""The built-in hardware plugins: shaped like third-party packages, sourced and tagged figures."""

import subprocess
import sys

import pytest

import moe_console_ascend950
import moe_console_h100
from console import perf
from console.api import Figure, HardwareSpec, PluginError
from console.modeled import backend_class_for, chip_from_spec


def _registered(module):
    specs = []
    module.register_hardware(specs.append)
    return {s.name: s for s in specs}


def test_plugins_declare_the_api_and_a_hookimpl():
    for module in (moe_console_h100, moe_console_ascend950):
        assert module.MOE_CONSOLE_API == "1.0"
        assert hasattr(module.register_hardware, "moe_console_impl")
        assert all(isinstance(s, HardwareSpec) for s in _registered(module).values())


def test_import_boundaries():
    """The perf model imports neither the API, the engine nor the TUI; plugins import only the API."""
    code = ("import sys\n"
            "import console.perf\n"
            "a = [m for m in ('console.api', 'console.engine', 'console.tui', 'console.plugins', 'textual')"
            " if m in sys.modules]\n"
            "for m in [m for m in sys.modules if m.startswith(('console', 'numpy'))]: del sys.modules[m]\n"
            "import moe_console_h100, moe_console_ascend950\n"
            "b = [m for m in ('numpy', 'console.perf', 'console.engine', 'console.modeled', 'console.plugins')"
            " if m in sys.modules]\n"
            "print(','.join(a) + '|' + ','.join(b))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "|"


def test_h100_figures():
    h = _registered(moe_console_h100)["h100"]
    assert (h.peak_tflops["bf16"].value, h.peak_tflops["fp8"].value) == (989, 1979)
    assert (h.hbm_gb.value, h.hbm_tbps.value, h.scale_up_gbps.value, h.power_w.value) == (80, 3.35, 900, 700)
    assert h.a2a_gbps.tag == "derived" and "43" in h.a2a_gbps.note and "46" in h.a2a_gbps.note
    assert h.a2a_gbps.value == pytest.approx(3 / (1 / 43 + 2 / 46), abs=0.01)
    assert (h.price_usd_per_hour.value, h.price_usd_per_hour.date) == (2.35, "2026-03")
    assert h.price_usd_per_hour.source and h.calibration == "sglang-96xh100"


def test_ascend950_figures_are_tagged_announced_derived_assumption():
    specs = _registered(moe_console_ascend950)
    dt, pr = specs["ascend950"], specs["ascend950pr"]
    assert dt.calibration is None and pr.calibration is None
    assert {f.tag for f in dt.peak_tflops.values()} == {"derived"}
    assert {f.tag for f in pr.peak_tflops.values()} == {"spec"}
    assert (dt.hbm_tbps.value, dt.hbm_tbps.tag, pr.hbm_tbps.value) == (4.0, "announced", 1.6)
    assert dt.a2a_gbps.tag == "assumption" and dt.price_usd_per_hour.tag == "assumption"
    assert dt.price_usd_per_hour.value == pytest.approx(0.75 * 2.35)


def test_plugin_h100_models_like_the_reference_h100(v3, dep):
    chip = chip_from_spec(_registered(moe_console_h100)["h100"])
    w = perf.Workload(context=2000, concurrency=128)
    ours = perf.evaluate(v3, chip, dep, w)
    ref = perf.evaluate(v3, perf.reference_chip("h100"), dep, w)
    assert ours.point.tokens_per_s_per_chip == pytest.approx(ref.point.tokens_per_s_per_chip, rel=1e-4)
    assert ours.label == ref.label == "modeled (calibrated to SGLang 96xH100, eta=0.37, overlap=0.41)"


def test_modeled_backend_classes():
    cls = backend_class_for(_registered(moe_console_h100)["h100"])
    assert (cls.info.name, cls.info.kind) == ("h100", "modeled")
    assert cls.capabilities.modeled_timings and cls.capabilities.cost
    assert {o.name for o in cls.options} >= {"target_model", "concurrency", "context", "pace", "price_usd_per_hour"}


def test_the_plugin_host_offers_the_modeled_backends():
    from console.plugins import PluginHost

    host = PluginHost.discover(allow=["h100", "ascend950"])
    entries = {e.name: e for e in host.backends()}
    assert {"h100", "ascend950", "ascend950pr"} <= set(entries)
    assert entries["ascend950"].info.kind == "modeled"


def _spec(**changes):
    base = dict(name="x1", display_name="X1", vendor="X", peak_tflops={"bf16": Figure(100, "TFLOPS", "s")},
                hbm_gb=Figure(64, "GB", "s"), hbm_tbps=Figure(2, "TB/s", "s"), scale_up_gbps=Figure(1, "GB/s", "s"),
                scale_out_gbps=Figure(1, "GB/s", "s"), a2a_gbps=Figure(50, "GB/s", "s"),
                price_usd_per_hour=Figure(1, "USD/h", "s"))
    return HardwareSpec(**{**base, **changes})


@pytest.mark.parametrize("changes, message", [
    ({"calibration": "nope"}, "unknown calibration 'nope'"),
    ({"hbm_tbps": Figure(2000, "GB/s", "s")}, "hbm_tbps must be in TB/s"),
    ({"peak_tflops": {}}, "declares no peak_tflops"),
    ({"a2a_gbps": Figure(0, "GB/s", "s")}, "a2a_gbps must be a positive number"),
])
def test_a_bad_third_party_spec_is_refused_in_one_line(changes, message):
    with pytest.raises(PluginError, match=message):
        backend_class_for(_spec(**changes))


def test_a_third_party_chip_is_modeled_by_analogy(v3, dep):
    cls = backend_class_for(_spec(hbm_gb=Figure(192, "GB", "s")))
    result = perf.evaluate(v3, cls.perf_chip, dep, perf.Workload(context=2000, concurrency=32))
    assert "by analogy" in result.label and result.figure("tokens_per_s_per_chip").has_range


def test_build_comparison_from_a_plugin_host():
    from console.perf.selection import build_comparison
    from console.plugins import PluginHost

    host = PluginHost.discover(allow=["h100", "ascend950", "local"])
    workload = perf.Workload(prompt_tokens=2000, output_tokens=500, context=2000, concurrency=128)
    c = build_comparison(host, ["ascend950", "h100"], workload, prices={"h100": 4.70}, user_prices={})
    assert list(c.results) == ["h100", "ascend950"] and c.baseline == "h100"  # baseline column first
    assert c.results["h100"].point.price.usd_per_hour == 4.70
    assert c.results["h100"].figure("tokens_per_s_per_chip").value == pytest.approx(2365, abs=2)
    assert "ascend950" in c.ratios and c.press["ascend950"]
    assert list(build_comparison(host, [], workload, user_prices={}).results) == ["h100", "ascend950", "ascend950pr"]
    with pytest.raises(perf.PerfDataError, match="not a modeled hardware backend: local"):
        build_comparison(host, ["local", "h100"], workload)

"""The MI325X spec passes the moe-console hardware-spec kit (units, tags, sources,
and a modeled backend built from it streams modeled timings)."""

import moe_console_mi325x
from console.testing import HardwareSpecConformance


class TestMI325X(HardwareSpecConformance):
    plugin = moe_console_mi325x


def test_every_assumption_says_why():
    spec = moe_console_mi325x.MI325X
    figures = [*spec.peak_tflops.values(), spec.hbm_gb, spec.hbm_tbps, spec.scale_up_gbps, spec.scale_out_gbps,
               spec.a2a_gbps, spec.price_usd_per_hour, spec.power_w]
    assert all(f.source.strip() for f in figures)
    assert all(f.note.strip() for f in figures if f.tag in ("assumption", "derived"))

"""moe-console hardware plugin: Huawei Ascend 950 (announced, not shipped for decode).

Registers ``ascend950`` (the 950DT decode chip; prefill modeled at the same cube
peaks, as a 950PR has) and ``ascend950pr`` (the 950PR, 1.6 TB/s HBM). No public
measured serving run exists: the console models them by analogy and shows ranges.
Sources [Sx] are those of shared/reference/hardware-perf.md §9.
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_ROADMAP = "Huawei Connect keynote, 18 Sep 2025 (roadmap figures) [S3]"
_PAPER = "Ascend 950 NPU architecture whitepaper cube peaks, Server tier, via CANN ops-transformer #5487 [S4]"
_SAME_DIE = "950DT assumed to share the 950PR die's whitepaper cube peaks; announced: 1 PF FP8, 2 PF FP4"
_A2A = Figure(186.5, "GB/s", "DeepEP-Ascend on 910C (sgl-kernel-npu README) [S22]; UB 784 GB/s -> 2 TB/s [S7][S3]",
              tag="assumption", note="no 950 measurement: 910C measured 49 GB/s dispatch / 97 GB/s combine "
              "x 2000/784 link ratio, byte-weighted (3 / (1/125 + 2/247.4))")
_PRICE = Figure(1.7625, "USD/h", "assumption (no public Ascend rental price found) [S31]", tag="assumption",
                note="0.75 x the H100 1-year price of 2.35 USD/h", date="2026-03")
_LINK = Figure(2000, "GB/s", _ROADMAP, tag="announced", note="UB interconnect per chip")


def _peaks(tag, note=""):
    return {"bf16": Figure(432, "TFLOPS", _PAPER, tag=tag, note=note),
            "fp8": Figure(865, "TFLOPS", _PAPER, tag=tag, note=note),
            "fp4": Figure(1730, "TFLOPS", _PAPER, tag=tag, note=note)}


ASCEND_950DT = HardwareSpec(
    name="ascend950", display_name="Huawei Ascend 950DT", vendor="Huawei",
    peak_tflops=_peaks("derived", _SAME_DIE),
    hbm_gb=Figure(144, "GB", _ROADMAP, tag="announced", note="HiZQ 2.0"),
    hbm_tbps=Figure(4.0, "TB/s", _ROADMAP, tag="announced"),
    scale_up_gbps=_LINK, scale_out_gbps=_LINK, a2a_gbps=_A2A, price_usd_per_hour=_PRICE,
    power_w=None, calibration=None,
    notes=("Announced for Q4 2026; power not published.", "Prefill modeled at the same cube peaks (950PR)."),
)

ASCEND_950PR = HardwareSpec(
    name="ascend950pr", display_name="Huawei Ascend 950PR", vendor="Huawei",
    peak_tflops=_peaks("spec"),
    hbm_gb=Figure(128, "GB", _ROADMAP, tag="announced", note="HiBL 1.0; the Atlas 350 card ships 112 GB"),
    hbm_tbps=Figure(1.6, "TB/s", _ROADMAP, tag="announced", note="Atlas 350 card: 1.4 TB/s"),
    scale_up_gbps=_LINK, scale_out_gbps=_LINK, a2a_gbps=_A2A, price_usd_per_hour=_PRICE,
    power_w=Figure(600, "W", "Atlas 350 card, 20 Mar 2026 [S5]", note="card power"), calibration=None,
)


@hookimpl
def register_hardware(register):
    register(ASCEND_950DT)
    register(ASCEND_950PR)

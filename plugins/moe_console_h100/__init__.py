"""moe-console hardware plugin: NVIDIA H100 SXM.

Registers one HardwareSpec; the console builds a modeled backend ``h100`` from it
(text from the local engine, timings and cost from the performance model,
calibrated to SGLang's 96 x H100 DeepSeek-V3 deployment). Sources [Sx] are those
of the moe-console hardware research note (shared/reference/hardware-perf.md §9).
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_SHEET = "NVIDIA H100 SXM datasheet: dense peaks, sparse figures halved [S1]"
_DEEPEP = "deepseek-ai/DeepEP README, low-latency kernels, H800 + CX7 400 Gb/s IB, EP64 [S21]"

H100 = HardwareSpec(
    name="h100",
    display_name="NVIDIA H100 SXM",
    vendor="NVIDIA",
    peak_tflops={
        "bf16": Figure(989, "TFLOPS", _SHEET),
        "fp8": Figure(1979, "TFLOPS", _SHEET),
    },
    hbm_gb=Figure(80, "GB", _SHEET, note="HBM3"),
    hbm_tbps=Figure(3.35, "TB/s", _SHEET),
    scale_up_gbps=Figure(900, "GB/s", _SHEET, note="NVLink 4, bidirectional, within an 8-GPU node"),
    scale_out_gbps=Figure(50, "GB/s", _SHEET, note="one 400 Gb/s InfiniBand NDR NIC per GPU"),
    a2a_gbps=Figure(
        44.95, "GB/s", _DEEPEP, tag="derived",
        note="measured 43 GB/s dispatch (FP8) and 46 GB/s combine (BF16); the value is their "
             "byte-weighted effective bandwidth 3 / (1/43 + 2/46) for one FP8 dispatch + BF16 combine",
    ),
    price_usd_per_hour=Figure(
        2.35, "USD/h", "SemiAnalysis GPU rental index via secondary reports [S30]", tag="market",
        note="market price, 1-year contract (not a vendor figure); on-demand median about 2.95",
        date="2026-03",
    ),
    power_w=Figure(700, "W", _SHEET),
    calibration="sglang-96xh100",
    notes=("DeepSeek-V3 figures are calibrated to SGLang's 96 x H100 run (LMSYS blog, 2025-05-05) [S20].",),
)


@hookimpl
def register_hardware(register):
    register(H100)

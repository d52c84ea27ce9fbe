"""moe-console hardware plugin: NVIDIA H200 SXM.

Registers one HardwareSpec; the console builds a modeled backend ``h200`` from it,
calibrated to SGLang's 96 x H100 run (same Hopper compute, same software family).
Sources [Sx]: shared/reference/hardware-perf.md §9.
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_SHEET = "H200 SXM: 141 GB HBM3e, 4.8 TB/s, NVLink 900 GB/s, 700 W, same compute as H100 [S2]"
_DEEPEP = "deepseek-ai/DeepEP README, low-latency kernels, H800 + CX7 400 Gb/s IB, EP64 [S21]"

H200 = HardwareSpec(
    name="h200",
    display_name="NVIDIA H200 SXM",
    vendor="NVIDIA",
    peak_tflops={"bf16": Figure(989, "TFLOPS", _SHEET), "fp8": Figure(1979, "TFLOPS", _SHEET)},
    hbm_gb=Figure(141, "GB", _SHEET, note="HBM3e"),
    hbm_tbps=Figure(4.8, "TB/s", _SHEET),
    scale_up_gbps=Figure(900, "GB/s", _SHEET, note="NVLink 4, bidirectional, within an 8-GPU node"),
    scale_out_gbps=Figure(50, "GB/s", "one 400 Gb/s InfiniBand NIC per GPU, as the H100 [S1]", tag="assumption",
                          note="HGX H200 nodes ship the same 400 Gb/s NICs as HGX H100"),
    a2a_gbps=Figure(44.95, "GB/s", _DEEPEP, tag="derived",
                    note="same IB scale-out as the H800 measurement: 43 GB/s dispatch, 46 GB/s combine, "
                         "byte-weighted 3 / (1/43 + 2/46)"),
    price_usd_per_hour=Figure(3.50, "USD/h", "mercatus-ai.com cloud GPU pricing, May 2026", tag="market",
                              note="specialty providers, on demand, low end of 3.50-4.50", date="2026-05"),
    power_w=Figure(700, "W", _SHEET),
    calibration="sglang-96xh100",
)


@hookimpl
def register_hardware(register):
    register(H200)

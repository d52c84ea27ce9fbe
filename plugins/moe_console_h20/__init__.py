"""moe-console hardware plugin: NVIDIA H20 (96 GB), the export-market Hopper.

Registers ``h20``, calibrated to SGLang's 96 x H100 run (Hopper, same software
family). Figures from the Ant Group / LMSYS H20 blog (measured-runs.md #5).
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_BLOG = "LMSYS blog 2025-09-26 (Ant Group), Best Practices for Serving DeepSeek-R1 on H20-96G: 4.0 TB/s, 148 BF16 TF"
_DEEPEP = "deepseek-ai/DeepEP README, low-latency kernels, H800 + CX7 400 Gb/s IB, EP64 [S21]"

H20 = HardwareSpec(
    name="h20",
    display_name="NVIDIA H20 (96 GB)",
    vendor="NVIDIA",
    peak_tflops={"bf16": Figure(148, "TFLOPS", _BLOG),
                 "fp8": Figure(296, "TFLOPS", _BLOG, tag="derived", note="2 x the BF16 peak, as on every Hopper")},
    hbm_gb=Figure(96, "GB", _BLOG),
    hbm_tbps=Figure(4.0, "TB/s", _BLOG),
    scale_up_gbps=Figure(900, "GB/s", "NVLink 4 as on H100 [S1]", tag="assumption",
                         note="not in the stored sources; H20 is a GH100 part with NVLink 4"),
    scale_out_gbps=Figure(50, "GB/s", "one 400 Gb/s NIC per GPU [S1]", tag="assumption",
                          note="the run used DeepEP low-latency over IB between two nodes"),
    a2a_gbps=Figure(44.95, "GB/s", _DEEPEP, tag="derived",
                    note="DeepEP LL over IB as measured on H800: byte-weighted 3 / (1/43 + 2/46)"),
    price_usd_per_hour=Figure(1.20, "USD/h", "no public H20 rental price in the stored sources", tag="assumption",
                              note="about 0.5 x the H100 1-year price of 2.35 USD/h", date="2026-03"),
    power_w=None,
    calibration="sglang-96xh100",
)


@hookimpl
def register_hardware(register):
    register(H20)

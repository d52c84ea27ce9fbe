"""moe-console hardware plugin: Huawei Ascend 910C (one package of two dies).

Registers ``ascend910c``, calibrated to Huawei's CloudMatrix384 run. Figures are
per package: vLLM-Ascend's "per card" figures are per die (half a package).
Sources [Sx]: shared/reference/hardware-perf.md §9.
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_SPEC = "Ascend 910C: 752 TFLOPS BF16, 128 GB, 3.2 TB/s per package [S6]"

ASCEND_910C = HardwareSpec(
    name="ascend910c", display_name="Huawei Ascend 910C", vendor="Huawei",
    peak_tflops={"bf16": Figure(752, "TFLOPS", _SPEC),
                 "int8": Figure(1504, "TOPS", "CloudMatrix384 paper, arXiv 2506.12708 [S23]", tag="derived",
                                note="6,688 prefill tok/s per NPU / 4.45 tok/s/TFLOPS")},
    hbm_gb=Figure(128, "GB", _SPEC, note="8 stacks, 2 dies"), hbm_tbps=Figure(3.2, "TB/s", _SPEC),
    scale_up_gbps=Figure(784, "GB/s", "910C UB interconnect [S7]", note="per package"),
    scale_out_gbps=Figure(50, "GB/s", "400 Gb/s RoCE per chip outside the supernode", tag="assumption",
                          note="not in the stored sources"),
    a2a_gbps=Figure(73.1, "GB/s", "sgl-project/sgl-kernel-npu README, DeepEP-Ascend on A3, EP32 [S22]",
                    tag="derived", note="measured 49 GB/s dispatch (INT8), 97 GB/s combine (BF16); "
                                        "byte-weighted 3 / (1/49 + 2/97)"),
    price_usd_per_hour=Figure(1.7625, "USD/h", "no public Ascend rental price found [S31]", tag="assumption",
                              note="0.75 x the H100 1-year price of 2.35 USD/h", date="2026-03"),
    power_w=None, calibration="cloudmatrix384-910c",
)


@hookimpl
def register_hardware(register):
    register(ASCEND_910C)

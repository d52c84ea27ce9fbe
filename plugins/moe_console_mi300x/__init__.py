"""moe-console hardware plugin: AMD Instinct MI300X.

Registers ``mi300x``, modeled by analogy (no AMD run is a calibration) and shown
as a range. No MoRI-EP all-to-all measurement is stored: ``a2a_gbps`` is an
assumption and the modeled figures say so.
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_SHEET = ("AMD Instinct MI300X figures as quoted by aiwiki.ai/wiki/amd_instinct_mi300x (192 GB HBM3, 5.3 TB/s) "
          "and jaredwatkins.com MI300 series (1.3 PF FP16, 2.6 PF FP8 dense)")

MI300X = HardwareSpec(
    name="mi300x", display_name="AMD Instinct MI300X", vendor="AMD",
    peak_tflops={"bf16": Figure(1307.4, "TFLOPS", _SHEET), "fp8": Figure(2614.9, "TFLOPS", _SHEET),
                 "int8": Figure(2614.9, "TOPS", _SHEET)},
    hbm_gb=Figure(192, "GB", _SHEET, note="HBM3"), hbm_tbps=Figure(5.3, "TB/s", _SHEET),
    scale_up_gbps=Figure(896, "GB/s", "gpu.blog Instinct MI300X listing", note="Infinity Fabric (xGMI), 8-GPU mesh"),
    scale_out_gbps=Figure(50, "GB/s", "one 400 Gb/s NIC per GPU", tag="assumption",
                          note="typical MI300X node; not in the stored sources"),
    a2a_gbps=Figure(350.1, "GB/s", "DeepEP intranode measured on H800 NVLink, 153/158 GB/s [S21]",
                    tag="assumption", note="no MoRI-EP measurement: H800 NVLink measured x 896/400 link ratio "
                                           "(342.7 / 353.9 GB/s), byte-weighted"),
    price_usd_per_hour=Figure(1.71, "USD/h", "gpu.blog Instinct MI300X listing (TensorWave, on demand)",
                              tag="market", note="cheapest listed on-demand price", date="2025-01"),
    power_w=Figure(750, "W", _SHEET), calibration=None,
)


@hookimpl
def register_hardware(register):
    register(MI300X)

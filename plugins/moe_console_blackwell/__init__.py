"""moe-console hardware plugin: NVIDIA Blackwell, B200 (HGX) and GB200 (NVL72).

Registers ``b200`` and ``gb200``. No Blackwell run is a calibration: both are
modeled by analogy to SGLang's H100 fit and shown as ranges. No Blackwell
all-to-all measurement is stored: ``a2a_gbps`` is an assumption (see its note),
and the modeled figures say so.
"""

from console.api import Figure, HardwareSpec, hookimpl

MOE_CONSOLE_API = "1.0"

_PEAKS = ("NVIDIA Blackwell datasheet figures (dense = sparse / 2) as quoted by "
          "glennklockwood.com/garden/processors/B200")
_SHEET = "NVIDIA HGX B200 / GB200 NVL72 datasheet table (per GPU)"
_A2A = Figure(703.3, "GB/s", "DeepEP intranode measured on H800 NVLink, 153/158 GB/s [S21]", tag="assumption",
              note="no Blackwell all-to-all measurement: H800 NVLink measured x 1800/400 link ratio "
                   "(688.5 / 711 GB/s), byte-weighted 3 / (1/688.5 + 2/711)")
_NVLINK = Figure(1800, "GB/s", _SHEET, note="NVLink 5, bidirectional")
_NIC = Figure(50, "GB/s", "one 400 Gb/s NIC per GPU", tag="assumption",
              note="Blackwell nodes ship 400 or 800 Gb/s NICs; 400 assumed")


def _peaks(bf16, fp8, fp4):
    return {"bf16": Figure(bf16, "TFLOPS", _PEAKS), "fp8": Figure(fp8, "TFLOPS", _PEAKS),
            "fp4": Figure(fp4, "TFLOPS", _PEAKS), "int8": Figure(fp8, "TOPS", _PEAKS)}


B200 = HardwareSpec(
    name="b200", display_name="NVIDIA B200 (HGX)", vendor="NVIDIA",
    peak_tflops=_peaks(2250, 4500, 9000),
    hbm_gb=Figure(180, "GB", _SHEET, note="HBM3E"), hbm_tbps=Figure(7.7, "TB/s", _SHEET),
    scale_up_gbps=_NVLINK, scale_out_gbps=_NIC, a2a_gbps=_A2A,
    price_usd_per_hour=Figure(4.70, "USD/h", "no B200 price in the stored sources", tag="assumption",
                              note="2 x the H100 1-year price of 2.35 USD/h", date="2026-03"),
    power_w=Figure(1000, "W", _SHEET, note="configurable up to 1,000 W"), calibration=None,
)

GB200 = HardwareSpec(
    name="gb200", display_name="NVIDIA GB200 (NVL72)", vendor="NVIDIA",
    peak_tflops=_peaks(2500, 5000, 10000),
    hbm_gb=Figure(186, "GB", _SHEET, note="HBM3E"), hbm_tbps=Figure(8.0, "TB/s", _SHEET),
    scale_up_gbps=_NVLINK, scale_out_gbps=_NIC, a2a_gbps=_A2A,
    price_usd_per_hour=Figure(5.40, "USD/h", "no GB200 price in the stored sources", tag="assumption",
                              note="the B200 assumption + 15% for the NVL72 rack", date="2026-03"),
    power_w=Figure(1200, "W", _SHEET, note="configurable up to 1,200 W"), calibration=None,
)


@hookimpl
def register_hardware(register):
    register(B200)
    register(GB200)

"""moe-console-mi325x: an example hardware plugin for moe-console.

It registers one :class:`console.api.HardwareSpec`, the AMD Instinct MI325X.
The console builds a *modeled* backend ``mi325x`` from it: reply text from the
local engine, timings and cost of a DeepSeek model served on MI325X chips from
the console's performance model. No public measured DeepSeek run on MI325X is
part of the console's calibration data, so ``calibration`` is ``None`` and the
figures are modeled by analogy (shown as ranges).

Units are those the host reads: ``TFLOPS`` (dense, not sparse), ``GB``,
``TB/s``, ``GB/s``, ``USD/h``, ``W``. Tags: ``spec`` (the vendor's data sheet),
``derived`` (computed; the note says how), ``assumption`` (no public source;
the note says why), ``market`` (a dated price). The module is cheap to import.
"""

from console.api import Figure, HardwareSpec, hookimpl

#: The plugin API this plugin was written against (also declared in its metadata).
MOE_CONSOLE_API = "1.0"

_SHEET = ("AMD Instinct MI325X accelerator data sheet (amd.com, October 2024): dense peaks; "
          "AMD quotes sparse figures at twice these")
_DEEPEP = "deepseek-ai/DeepEP README: low-latency all-to-all over 400 Gb/s InfiniBand, 43-46 GB/s measured"

MI325X = HardwareSpec(
    name="mi325x",
    display_name="AMD Instinct MI325X",
    vendor="AMD",
    peak_tflops={
        "bf16": Figure(1307.4, "TFLOPS", _SHEET),
        "fp8": Figure(2614.9, "TFLOPS", _SHEET),
    },
    hbm_gb=Figure(256, "GB", _SHEET, note="HBM3E"),
    hbm_tbps=Figure(6.0, "TB/s", _SHEET),
    scale_up_gbps=Figure(896, "GB/s", _SHEET, tag="derived",
                         note="7 AMD Infinity Fabric links x 128 GB/s each, within an 8-GPU platform"),
    scale_out_gbps=Figure(50, "GB/s", "typical MI325X platform: one 400 Gb/s NIC per GPU", tag="assumption",
                          note="a platform choice, not a chip figure: 400 Gb/s = 50 GB/s per GPU"),
    a2a_gbps=Figure(
        45, "GB/s", _DEEPEP, tag="assumption",
        note="no public all-to-all measurement on MI325X; taken by analogy with DeepEP's 43-46 GB/s on one "
             "400 Gb/s NIC per GPU. It dominates decode at scale: replace it with your own measurement",
    ),
    price_usd_per_hour=Figure(
        2.00, "USD/h", "no public rental index in this example's sources", tag="assumption",
        note="placeholder price per GPU-hour; put your own in prices.toml or the price_usd_per_hour option",
        date="2026-12-01",
    ),
    power_w=Figure(1000, "W", _SHEET, note="total board power"),
    calibration=None,
    notes=("Modeled by analogy: no measured DeepSeek deployment on MI325X is in the calibration data.",),
)


@hookimpl
def register_hardware(register):
    register(MI325X)

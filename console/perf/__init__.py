"""Performance and cost model of MoE serving on accelerators (numpy + stdlib only).

Per decode step and chip, a roofline per op group (replicated weights, local
routed experts, attention over the KV cache) divided by a fitted efficiency,
plus a measured all-to-all term with a fitted overlap; prefill at a fitted MFU;
cost from dated chip-hour prices. Factors are fitted to published runs shipped
as data (``console/perf/data``); chips without a run of their own are modeled by
analogy and shown as ranges. Method and sources: ``shared/reference/hardware-perf.md``
§7-8. This package never imports the plugin API, the engine or the TUI.

Typical use::

    from console import perf
    profile = perf.load_profile("deepseek-v3")
    chip = perf.reference_chip("h100")
    result = perf.evaluate(profile, chip, perf.default_deployment(),
                           perf.Workload(concurrency=128, context=2000),
                           perf.table_price("h100"))
    result.point.tokens_per_s_per_chip, result.label
"""

from console.perf.calibration import IDEAL, Factors, calibration, calibration_names, residuals
from console.perf.compare import PRESS_HEADING, RATIOS, Comparison, compare, press_claims
from console.perf.datafiles import PerfDataError
from console.perf.decode import StepBreakdown, decode_step, max_batch
from console.perf.deployment import Deployment, Workload, default_deployment
from console.perf.estimate import METRICS, Estimate, estimate
from console.perf.hardware import A2A, Chip, a2a_record, figure, reference_chip, reference_chip_names
from console.perf.prices import Price, load_price_file, resolve_price, table_price, user_price_path
from console.perf.profiles import ModelProfile, load_profile, profile_names
from console.perf.ranges import BackendResult, Ranged, evaluate
from console.perf.records import Record, record, records

__all__ = [
    "A2A", "IDEAL", "METRICS", "PRESS_HEADING", "RATIOS",
    "BackendResult", "Chip", "Comparison", "Deployment", "Estimate", "Factors",
    "ModelProfile", "PerfDataError", "Price", "Ranged", "Record", "StepBreakdown", "Workload",
    "a2a_record", "calibration", "calibration_names", "compare", "decode_step", "default_deployment",
    "estimate", "evaluate", "figure", "load_price_file", "load_profile", "max_batch", "press_claims",
    "profile_names", "record", "records", "reference_chip", "reference_chip_names", "residuals",
    "resolve_price", "table_price", "user_price_path",
]

"""The model against every measured run: per-run error, fitted vs held-out, summary.

For each :class:`~console.perf.records.Record` the model predicts the figure the
run measured under the run's own conditions, with the factors of the run's
calibration (its software stack and model generation when one is shipped, else
its chip's, else by analogy to the SGLang H100 fit). A run a calibration is
fitted to is ``fitted``; every other is ``held-out``. Runs that cannot be
matched are listed with the reason and never scored. The summary gives the
median and worst absolute error per hardware family and per model, for the
held-out runs (the figure the targets are about) and for all scored runs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from console.perf.calibration import Factors, calibration, calibration_names, fitted_runs
from console.perf.datafiles import PerfDataError
from console.perf.fitting import predict
from console.perf.hardware import Chip, reference_chip
from console.perf.ranges import point_factors
from console.perf.records import Record
from console.perf.stacks import stack

#: Targets of the validation (absolute relative error on held-out runs).
TARGET_MEDIAN = 0.15
TARGET_WORST = 0.35

#: Hardware family of each chip name (the summary groups by it).
FAMILIES = {"h100": "NVIDIA Hopper", "h800": "NVIDIA Hopper", "h200": "NVIDIA Hopper", "h20": "NVIDIA Hopper",
            "b200": "NVIDIA Blackwell", "gb200": "NVIDIA Blackwell", "mi300x": "AMD CDNA3",
            "ascend910c": "Huawei Ascend 910C", "ascend950dt": "Huawei Ascend 950", "ascend950pr": "Huawei Ascend 950",
            "ascend950": "Huawei Ascend 950"}


@dataclass(frozen=True)
class Row:
    """One run against the model."""

    record: Record
    status: str                 # fitted | held-out | unmatched
    modeled: float | None = None
    factors: Factors | None = None
    capped_batch: float | None = None
    why: str = ""

    @property
    def error(self) -> float | None:
        """``modeled / measured - 1`` (``None`` for an unmatched run)."""
        return None if self.modeled is None else self.modeled / self.record.measured - 1.0

    @property
    def family(self) -> str:
        return FAMILIES.get(self.record.hardware, self.record.hardware)

    def as_dict(self) -> dict[str, Any]:
        r = self.record
        return {"id": r.id, "run": r.run, "status": self.status, "hardware": r.hardware, "family": self.family,
                "model": r.model, "metric": r.metric, "measured": r.measured, "modeled": self.modeled,
                "error": self.error, "who": r.who, "kind": r.kind, "conditions": r.conditions_text(),
                "calibration": self.factors.calibration if self.factors else None,
                "factors": self.factors.as_dict() if self.factors else None,
                "capped_batch": self.capped_batch, "assumed": list(r.assumed), "why": self.why,
                "source": r.source}


def run_factors(rec: Record, chip: Chip) -> Factors:
    """The run's calibration, else its serving stack's, else the chip's (or by analogy)."""
    name = rec.calibration or (stack(rec.stack).calibration if rec.stack else None)
    if name:
        if name not in calibration_names():
            raise PerfDataError(f"names unknown calibration {name!r}")
        return calibration(name)
    return point_factors(chip, rec.model)


def check(rec: Record, resolve_chip: Callable[[str], Chip] = reference_chip,
          fitted: dict[str, str] | None = None) -> Row:
    """One run against the model (an unmatched or unmodelable run says why)."""
    fitted = fitted_runs() if fitted is None else fitted
    if not rec.matched:
        return Row(rec, "unmatched", why=rec.unmatched)
    try:
        chip = resolve_chip(rec.hardware)
        factors = run_factors(rec, chip)
        p = predict(rec, factors.eta, factors.overlap, factors.mfu, chips=resolve_chip)
    except PerfDataError as exc:
        return Row(rec, "unmatched", why=str(exc))
    status = "fitted" if rec.id in fitted else "held-out"
    return Row(rec, status, p.value, factors, p.batch if p.capped else None)


def validate(recs: Sequence[Record], resolve_chip: Callable[[str], Chip] = reference_chip) -> list[Row]:
    """Every run of ``recs`` against the model."""
    fitted = fitted_runs()
    return [check(r, resolve_chip, fitted) for r in recs]


def _stats(errors: list[float]) -> dict[str, Any]:
    if not errors:
        return {"runs": 0, "median": None, "worst": None}
    absolute = [abs(e) for e in errors]
    return {"runs": len(absolute), "median": statistics.median(absolute), "worst": max(absolute)}


def summary(rows: Sequence[Row]) -> dict[str, Any]:
    """Median and worst absolute error: held-out and all scored runs, per family and per model."""
    scored = [r for r in rows if r.error is not None]
    held = [r for r in scored if r.status == "held-out"]

    def grouped(key: Callable[[Row], str], subset: list[Row]) -> dict[str, Any]:
        groups: dict[str, list[float]] = {}
        for r in subset:
            groups.setdefault(key(r), []).append(r.error)
        return {k: _stats(v) for k, v in groups.items()}

    overall = _stats([r.error for r in held])
    return {
        "held_out": overall,
        "all_scored": _stats([r.error for r in scored]),
        "fitted": _stats([r.error for r in scored if r.status == "fitted"]),
        "unmatched": sum(1 for r in rows if r.status == "unmatched"),
        "targets": {"median": TARGET_MEDIAN, "worst": TARGET_WORST,
                    "median_met": overall["median"] is not None and overall["median"] <= TARGET_MEDIAN,
                    "worst_met": overall["worst"] is not None and overall["worst"] <= TARGET_WORST},
        "held_out_by_family": grouped(lambda r: r.family, held),
        "held_out_by_model": grouped(lambda r: r.record.model, held),
        "by_family": grouped(lambda r: r.family, scored),
        "by_model": grouped(lambda r: r.record.model, scored),
    }


def measured_label(rec: Record) -> str:
    """``measured by <who> (conditions)``: how a published figure is shown beside a modeled one."""
    who = rec.who or "a third party"
    kind = rec.kind.replace("-", " ")
    extra = [p for p in rec.conditions_text().split(", ") if p and p not in kind]
    conditions = ", ".join([kind, *extra])
    return f"measured by {who} ({conditions})" if conditions else f"measured by {who}"

"""Efficiency factors fitted to measured runs (``data/calibrations.toml``).

* ``eta`` and ``overlap`` from a TBO-on / TBO-off decode pair, exactly (TBO off
  means overlap 0, which fixes ``eta``; the TBO-on run then fixes ``overlap``);
* ``eta`` alone from one decode run, given an overlap;
* ``mfu`` from prefill runs.

Every fit is :func:`console.perf.fitting.fit` (least squares of the log error,
exact when runs and free factors are as many) over the runs' own conditions;
the record's hardware comes from ``chips.toml``, its shapes from its profile.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from console.perf.datafiles import data, require, table
from console.perf.deployment import Deployment
from console.perf.fitting import ChipResolver, fit, fit_mfu
from console.perf.fitting import predict as fitting_predict
from console.perf.records import Record, record


@dataclass(frozen=True)
class Factors:
    """Efficiency factors and where they come from."""

    eta: float
    overlap: float
    mfu: float
    calibration: str
    run: str

    @property
    def label(self) -> str:
        if self.calibration == "ideal":
            return "modeled (ideal)"
        return f"modeled (calibrated to {self.run}, eta={self.eta:.2f}, overlap={self.overlap:.2f})"

    def replace(self, **changes: Any) -> Factors:
        values = {**self.__dict__, **changes}
        return Factors(**values)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "label": self.label}


#: The ideal bound: every op at peak, all-to-all fully hidden, prefill at peak.
IDEAL = Factors(eta=1.0, overlap=1.0, mfu=1.0, calibration="ideal", run="ideal")


def calibration_names() -> list[str]:
    return list(data("calibrations.toml"))


def calibration_runs(name: str) -> list[str]:
    """Ids of the runs calibration ``name`` is fitted to."""
    entry = table("calibrations.toml", name)
    return [*entry.get("decode", ()), *entry.get("prefill", ())]


def model_calibration(hardware: str, model: str) -> str | None:
    """The calibration measured on ``hardware`` for ``model`` (``applies_to``), if any."""
    for name, entry in data("calibrations.toml").items():
        scope = entry.get("applies_to") or {}
        if hardware in scope.get("hardware", ()) and model == scope.get("model"):
            return name
    return None


def fitted_runs() -> dict[str, str]:
    """``{run id: calibration}`` for every run a shipped calibration (or a serving
    stack's kernel efficiency, ``stacks.toml``) is fitted to."""
    from console.perf.stacks import stack_fit_runs

    return {**{rid: name for name in calibration_names() for rid in calibration_runs(name)}, **stack_fit_runs()}


@functools.lru_cache(maxsize=None)
def calibration(name: str) -> Factors:
    """The factors of calibration ``name`` (fitted on first use)."""
    entry = table("calibrations.toml", name)
    where = f"calibrations.toml [{name}]"
    free = list(entry.get("fit", ()))
    start = {"eta": 0.4, "overlap": 0.5}
    if "overlap" not in free:
        start["overlap"] = calibration(require(entry, "overlap_from", where)).overlap
    if entry.get("prefill"):
        mfu = fit_mfu([record(r) for r in entry["prefill"]])
    elif "mfu" in free:
        mfu = 0.3  # start of the fit
    else:
        mfu = calibration(require(entry, "mfu_from", where)).mfu
    values = fit([record(r) for r in require(entry, "decode", where)], {**start, "mfu": mfu}, free)
    return Factors(eta=values["eta"], overlap=values["overlap"], mfu=values["mfu"], calibration=name,
                   run=entry["run"])


def predict(rec: Record, factors: Factors, base: Deployment | None = None,
            chips: ChipResolver | None = None) -> float:
    """Modeled figure (``rec.metric``) for the setup of ``rec`` with ``factors``."""
    return fitting_predict(rec, factors.eta, factors.overlap, factors.mfu, chips=chips, base=base).value


def residuals(factors: Factors) -> list[dict[str, Any]]:
    """The runs of ``factors``' calibration (or, for the ideal bound, none) against the model."""
    if factors.calibration not in calibration_names():
        return []
    rows = []
    for rec in (record(r) for r in calibration_runs(factors.calibration)):
        modeled = predict(rec, factors)
        rows.append({"record": rec.id, "run": rec.run, "role": rec.role, "phase": rec.phase,
                     "metric": rec.metric, "hardware": rec.hardware, "measured": rec.measured,
                     "modeled": modeled, "error": modeled / rec.measured - 1.0,
                     "assumed": list(rec.assumed), "source": rec.source})
    return rows

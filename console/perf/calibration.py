"""Efficiency factors fitted to measured runs (``data/calibrations.toml``).

* ``eta`` and ``overlap`` from a TBO-on / TBO-off decode pair, exactly: with
  overlap 0 the TBO-off step is ``t_c + t_a2a``, which fixes ``t_c`` and so
  ``eta = sum(t_op) / t_c``; the TBO-on step then fixes ``overlap``.
* ``eta`` alone from one decode run, given an overlap (solving the step formula
  for ``t_c`` on whichever side of ``t_a2a`` it falls).
* ``mfu`` from a prefill run: ``tok_s x time per token at peak``.

Fitting reads the record's own hardware from ``chips.toml`` and its model profile.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from console.perf.datafiles import PerfDataError, data, table
from console.perf.decode import decode_step
from console.perf.deployment import Deployment, default_deployment
from console.perf.hardware import reference_chip
from console.perf.prefill import prefill_tokens_per_s, seconds_per_token_at_peak
from console.perf.profiles import load_profile
from console.perf.records import Record, record, records


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


def _raw(rec: Record, base: Deployment) -> tuple[float, float]:
    """``(sum of op times, a2a time)`` of a decode record at efficiency 1 (seconds)."""
    step = decode_step(load_profile(rec.model), reference_chip(rec.hardware), rec.deployment(base),
                       rec.batch_per_chip, rec.context, eta=1.0, overlap=0.0)
    return float(step.t_raw[0]), float(step.t_a2a[0])


def fit_eta_overlap(tbo_on: Record, tbo_off: Record, base: Deployment) -> tuple[float, float]:
    """``(eta, overlap)`` reproducing both runs exactly."""
    raw, t_a = _raw(tbo_off, base)
    t_c = tbo_off.step_seconds - t_a
    if t_c <= 0:
        raise PerfDataError(f"{tbo_off.id}: step shorter than the modeled all-to-all; cannot fit eta")
    eta = raw / t_c
    raw_on, t_a_on = _raw(tbo_on, base)
    t_c_on = raw_on / eta
    overlap = 1.0 - (tbo_on.step_seconds - max(t_c_on, t_a_on)) / min(t_c_on, t_a_on)
    return eta, overlap


def fit_eta(rec: Record, overlap: float, base: Deployment) -> float:
    """``eta`` reproducing one decode run with the given overlap."""
    raw, t_a = _raw(rec, base)
    step = rec.step_seconds
    t_c = step - (1.0 - overlap) * t_a          # case t_c >= t_a
    if t_c < t_a:
        t_c = (step - t_a) / (1.0 - overlap)    # case t_c < t_a
    if t_c <= 0:
        raise PerfDataError(f"{rec.id}: step shorter than the modeled all-to-all; cannot fit eta")
    return raw / t_c


def fit_mfu(rec: Record, base: Deployment) -> float:
    """Prefill MFU reproducing one prefill run."""
    chip, profile = reference_chip(rec.hardware), load_profile(rec.model)
    return rec.tokens_per_s_per_chip * seconds_per_token_at_peak(profile, chip, base, rec.prompt_tokens)


def calibration_names() -> list[str]:
    return list(data("calibrations.toml"))


@functools.lru_cache(maxsize=None)
def calibration(name: str) -> Factors:
    """The factors of calibration ``name`` (fitted on first use)."""
    entry = table("calibrations.toml", name)
    base = default_deployment()
    if "decode_tbo_on" in entry:
        eta, overlap = fit_eta_overlap(record(entry["decode_tbo_on"]), record(entry["decode_tbo_off"]), base)
    else:
        overlap = calibration(entry["overlap_from"]).overlap
        eta = fit_eta(record(entry["decode"]), overlap, base)
    mfu = fit_mfu(record(entry["prefill"]), base)
    return Factors(eta=eta, overlap=overlap, mfu=mfu, calibration=name, run=entry["run"])


def predict(rec: Record, factors: Factors, base: Deployment | None = None) -> float:
    """Modeled tok/s per chip for the setup of ``rec`` with ``factors``."""
    base = base or default_deployment()
    chip, profile = reference_chip(rec.hardware), load_profile(rec.model)
    if rec.phase == "prefill":
        return prefill_tokens_per_s(profile, chip, base, rec.prompt_tokens, factors.mfu)
    overlap = factors.overlap if rec.two_batch_overlap else 0.0
    step = decode_step(profile, chip, rec.deployment(base), rec.batch_per_chip, rec.context,
                       factors.eta, overlap)
    return float(step.tokens_per_s[0])


def residuals(factors: Factors) -> list[dict[str, Any]]:
    """Every record against the model with ``factors``: measured, modeled, relative error."""
    rows = []
    for rec in records():
        modeled = predict(rec, factors)
        rows.append({"record": rec.id, "run": rec.run, "role": rec.role, "phase": rec.phase,
                     "hardware": rec.hardware, "measured": rec.tokens_per_s_per_chip,
                     "modeled": modeled, "error": modeled / rec.tokens_per_s_per_chip - 1.0,
                     "assumed": list(rec.assumed), "source": rec.source})
    return rows

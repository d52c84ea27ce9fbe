"""Predicting a measured run, and fitting efficiency factors to runs.

:func:`predict` models one :class:`~console.perf.records.Record` under its own
conditions (hardware, parallelism, formats, MTP, balance, PD or aggregated
serving) and returns the figure it measured. :func:`fit` finds the factors
(``eta``, ``overlap``) that minimise the squared log error of the predictions
over a set of decode runs (Levenberg-Marquardt with numerical derivatives;
with as many independent runs as free factors the fit is exact), and :func:`fit_mfu` the prefill
MFU (the geometric mean of each prefill run's exact MFU, which is the
least-squares log fit). The shipped calibrations, ``compare --calibrate`` and
``validate`` all use these two functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from console.perf.datafiles import PerfDataError
from console.perf.decode import decode_step, max_batch, served
from console.perf.deployment import Deployment, default_deployment
from console.perf.hardware import Chip, reference_chip
from console.perf.prefill import colocated_share, prefill_tokens_per_s, seconds_per_token_at_peak
from console.perf.profiles import load_profile
from console.perf.records import Record
from console.perf.stacks import Stack
from console.perf.stacks import stack as stack_of

FREE = ("eta", "overlap", "mfu")
#: The range each fitted factor may take; a fit that ends on an edge could not match the runs.
BOUNDS = {"eta": (1e-3, 5.0), "overlap": (0.0, 1.0), "mfu": (1e-3, 1.0)}
_BOUNDS = BOUNDS


def at_bounds(values: dict[str, float], names) -> list[str]:
    """The factors among ``names`` that a fit left on an edge of :data:`BOUNDS`."""
    return [n for n in names if n in BOUNDS and any(abs(values[n] - edge) <= 1e-9 * max(1.0, abs(edge))
                                                    for edge in BOUNDS[n])]
ChipResolver = Callable[[str], Chip]


@dataclass(frozen=True)
class Prediction:
    """The model's figure for one run, and the setup it used."""

    value: float
    batch: float
    capped: bool = False
    step_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _resolve(rec: Record, chips: ChipResolver | None) -> Chip:
    return (chips or reference_chip)(rec.hardware)


def run_deployment(rec: Record, base: Deployment, stack: Stack | None = None) -> Deployment:
    """The run's deployment with its serving stack applied (``stack`` replaces the named one)."""
    dep = rec.deployment(base)
    st = stack or (stack_of(rec.stack) if rec.stack else None)
    if st is None or rec.phase != "decode":
        return dep
    profile = served(load_profile(rec.model), dep)
    return st.apply(dep, (profile.other_dtype, profile.routed_dtype))


def predict(rec: Record, eta: float, overlap: float, mfu: float, *, chips: ChipResolver | None = None,
            base: Deployment | None = None, stack: Stack | None = None) -> Prediction:
    """The figure ``rec.metric`` the model gives for the run's setup with these factors.

    A decode batch the model cannot hold in HBM is capped (``capped``): an
    aggregated server queues what does not fit, which is what such a run measured.
    """
    base = base or default_deployment()
    chip, profile, dep = _resolve(rec, chips), load_profile(rec.model), run_deployment(rec, base, stack)
    if rec.phase == "prefill":
        return Prediction(prefill_tokens_per_s(profile, chip, dep, rec.prompt_tokens, mfu), 0.0)
    limit = max_batch(profile, chip, dep, rec.context)
    if limit < 1 and rec.batch_per_chip >= 1:
        raise PerfDataError(f"{rec.id}: {profile.display_name} does not fit on {chip.display_name} as set up")
    batch = rec.batch_per_chip if rec.batch_per_chip <= max(limit, 1) else float(limit)
    step = decode_step(profile, chip, dep, batch, rec.context, eta, overlap if rec.two_batch_overlap else 0.0)
    tokens_per_s, tpot = float(step.tokens_per_s[0]), float(step.tpot[0])
    if rec.serving == "aggregated":
        rate = prefill_tokens_per_s(profile, chip, dep, rec.prompt_tokens, mfu)
        share = colocated_share(rec.output_tokens, tpot, batch, rec.prompt_tokens, rate)
        tokens_per_s, tpot = tokens_per_s * share, tpot / share
    value = tpot * 1e3 if rec.metric == "tpot_ms" else tokens_per_s
    return Prediction(value, batch, batch < rec.batch_per_chip, float(step.step[0]) * 1e3)


def _residuals(recs: Sequence[Record], values: dict[str, float], chips, base) -> np.ndarray:
    return np.array([math.log(predict(r, values["eta"], values["overlap"], values["mfu"], chips=chips,
                                      base=base).value / r.measured) for r in recs])


def fit(recs: Sequence[Record], start: dict[str, float], free: Sequence[str] = ("eta", "overlap"), *,
        chips: ChipResolver | None = None, base: Deployment | None = None) -> dict[str, float]:
    """``start`` (``eta``, ``overlap``, ``mfu``) with the ``free`` factors fitted to
    the decode runs ``recs`` (``mfu`` matters only for aggregated runs, whose
    chips also prefill)."""
    recs = [r for r in recs if r.phase == "decode"]
    free = [f for f in free if f in FREE]
    if not recs or not free:
        raise PerfDataError("nothing to fit: no decode run or no free factor")
    if "overlap" in free and not any(r.two_batch_overlap for r in recs):
        free.remove("overlap")  # no run overlaps: the overlap is not determined
    if "mfu" in free and not any(r.serving == "aggregated" for r in recs):
        free.remove("mfu")  # decode-only runs do not depend on the prefill MFU
    values = dict(start)
    r = _residuals(recs, values, chips, base)
    cost, damping = float(r @ r), 1e-3
    for _ in range(300):
        jac = np.empty((len(recs), len(free)))
        for j, name in enumerate(free):
            h = 1e-6 * max(abs(values[name]), 1e-3)
            jac[:, j] = (_residuals(recs, {**values, name: values[name] + h}, chips, base) - r) / h
        normal = jac.T @ jac
        while damping < 1e12:  # Levenberg-Marquardt: damp until the step lowers the cost
            delta = np.linalg.solve(normal + damping * (np.diag(np.diag(normal)) + 1e-12 * np.eye(len(free))),
                                    -jac.T @ r)
            trial = {**values}
            for j, name in enumerate(free):
                low, high = _BOUNDS[name]
                trial[name] = min(high, max(low, values[name] + float(delta[j])))
            trial_r = _residuals(recs, trial, chips, base)
            if float(trial_r @ trial_r) <= cost:
                break
            damping *= 10
        else:
            break
        moved = max(abs(trial[n] - values[n]) for n in free)
        values, r, cost, damping = trial, trial_r, float(trial_r @ trial_r), max(damping / 10, 1e-9)
        if moved < 1e-14 or cost < 1e-28:
            break
    return values


def fit_mfu(recs: Sequence[Record], *, chips: ChipResolver | None = None, base: Deployment | None = None) -> float:
    """Prefill MFU: geometric mean of each prefill run's exact MFU."""
    base = base or default_deployment()
    recs = [r for r in recs if r.phase == "prefill"]
    if not recs:
        raise PerfDataError("nothing to fit: no prefill run")
    logs = [math.log(r.measured * seconds_per_token_at_peak(load_profile(r.model), _resolve(r, chips),
                                                            run_deployment(r, base), r.prompt_tokens)) for r in recs]
    return math.exp(sum(logs) / len(logs))

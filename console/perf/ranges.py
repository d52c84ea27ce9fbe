"""A backend's modeled figures with their label and, for uncalibrated chips, a range.

:func:`evaluate` returns a :class:`BackendResult`: the point estimate (calibrated
to the chip's own run, or by analogy to the H100 fit), the ideal bound (eta = 1,
full overlap, MFU = 1) and, per metric, the min-max over the in-range
sensitivity scenarios that apply to the chip (a calibrated chip has no range).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from console.perf.calibration import IDEAL, Factors, calibration, model_calibration
from console.perf.datafiles import data
from console.perf.deployment import Deployment, Workload
from console.perf.estimate import METRICS, Estimate, estimate
from console.perf.hardware import Chip, reference_chip
from console.perf.prices import Price
from console.perf.profiles import ModelProfile
from console.perf.scenarios import Inputs, Scenario, load_scenarios

#: The calibration an uncalibrated chip borrows its point factors from.
ANALOGY_CALIBRATION = "sglang-96xh100"


@dataclass(frozen=True)
class Ranged:
    """A figure, its min-max over the sensitivity scenarios, and its label."""

    value: float | None
    low: float | None
    high: float | None
    label: str

    @property
    def has_range(self) -> bool:
        return self.low is not None and self.high is not None and self.low != self.high

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "label": self.label}


@dataclass(frozen=True)
class BackendResult:
    """Everything modeled for one backend at one workload."""

    point: Estimate
    ideal: Estimate
    scenarios: dict[str, Estimate] = field(default_factory=dict)
    label: str = ""

    @property
    def chip(self) -> Chip:
        return self.point.chip

    @property
    def calibrated(self) -> bool:
        return self.point.chip.calibration is not None

    def figure(self, metric: str) -> Ranged:
        value = self.point.metrics()[metric]
        values = [e.metrics()[metric] for e in self.scenarios.values()] + [value]
        values = [v for v in values if v is not None]
        if not self.scenarios or not values:
            return Ranged(value, None, None, self.label)
        return Ranged(value, min(values), max(values), self.label)

    def figures(self) -> dict[str, Ranged]:
        return {metric: self.figure(metric) for metric in METRICS}

    def as_dict(self) -> dict[str, Any]:
        return {
            "hardware": self.chip.name,
            "display_name": self.chip.display_name,
            "label": self.label,
            "calibrated": self.calibrated,
            "batch_per_chip": self.point.batch,
            "max_batch_per_chip": self.point.max_batch,
            "tpot_target_met": self.point.tpot_target_met,
            "figures": {k: v.as_dict() for k, v in self.figures().items()},
            "ideal": {**self.ideal.metrics(), "label": self.ideal.label},
            "price": self.point.price.as_dict() if self.point.price else None,
            "range_over": sorted(self.scenarios),
        }


def point_factors(chip: Chip, model: str | None = None) -> Factors:
    """The chip's own calibration, else one measured on it for ``model``, else the analogy one."""
    if chip.calibration:
        return calibration(chip.calibration)
    measured = model_calibration(chip.name, model) if model else None
    return calibration(measured or ANALOGY_CALIBRATION)


#: Scenario overrides a measured calibration for the model makes moot (eta is measured).
_MEASURED_MOOTS = {"eta", "eta_scale"}


def label_for(chip: Chip, factors: Factors, n_scenarios: int, own: bool = False, measured: bool = False) -> str:
    """The label of a chip's modeled figures (``own``: factors given for this chip;
    ``measured``: a calibration measured on the chip for this model)."""
    if chip.calibration is not None or own:
        label = factors.label
    elif measured:
        label = (f"modeled (calibrated to {factors.run} on this chip for this model, eta={factors.eta:.2f}, "
                 f"overlap={factors.overlap:.2f}; range over {n_scenarios} sensitivities)")
    else:
        label = (f"modeled (calibrated by analogy to {factors.run}, eta={factors.eta:.2f}, "
                 f"overlap={factors.overlap:.2f}; range over {n_scenarios} sensitivities)")
    if chip.a2a_assumed:
        label += "; all-to-all assumed, not measured"
    return label


def serving_ranks(name: str) -> int:
    """Serving ranks one package of hardware ``name`` holds (``dies`` in chips.toml; 1 if
    not listed): a 910C's two dies each keep their own replicated weights, as its
    calibration run was modeled."""
    return int(data("chips.toml").get(name, {}).get("dies", 1))


def default_resolver(chips: dict[str, Chip]) -> Callable[[str], Chip]:
    """Chip lookup for scenarios: the compared chips first, then ``chips.toml``."""
    return lambda name: chips[name] if name in chips else reference_chip(name)


def run(profile: ModelProfile, inputs: Inputs, price: Price | None) -> Estimate:
    return estimate(profile, inputs.chip, inputs.deployment, inputs.workload, inputs.factors, price)


def evaluate(profile: ModelProfile, chip: Chip, dep: Deployment, workload: Workload,
             price: Price | None = None, *, scenarios: list[Scenario] | None = None,
             resolve_chip: Callable[[str], Chip] | None = None, factors: Factors | None = None) -> BackendResult:
    """Point, ideal bound and scenario estimates of ``profile`` on ``chip``.

    ``factors`` replaces the chip's calibration (the figures are then points,
    calibrated to the run those factors were fitted to)."""
    own = factors is not None
    dep = dep.replace(ranks_per_chip=max(dep.ranks_per_chip, serving_ranks(chip.name)))
    measured = not own and chip.calibration is None and model_calibration(chip.name, profile.name) is not None
    factors = factors or point_factors(chip, profile.name)
    base = Inputs(chip, dep, workload, factors)
    resolve_chip = resolve_chip or default_resolver({chip.name: chip})
    chosen = [] if own else [s for s in (scenarios if scenarios is not None else load_scenarios())
                             if s.in_range and s.applies(chip) and s.touches("target")
                             and not (measured and _MEASURED_MOOTS & set(s.overrides))]
    results = {s.id: run(profile, s.apply(base, resolve_chip), price) for s in chosen}
    ideal = run(profile, Inputs(chip, dep, workload, IDEAL), price)
    return BackendResult(run(profile, base, price), ideal, results,
                         label_for(chip, factors, len(results), own, measured))

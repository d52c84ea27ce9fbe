"""Sensitivity scenarios (``data/sensitivities.toml``) and how they change a model input.

A scenario is a set of overrides of the efficiency factors, the deployment, the
workload or the chip, applied to the target chip, the baseline or both (``side``).
Chips without a calibration of their own get ranges over the ``in_range`` ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from console.perf.calibration import Factors, calibration
from console.perf.datafiles import PerfDataError, data
from console.perf.deployment import Deployment, Workload
from console.perf.hardware import Chip, a2a_record

_OVERRIDES = {"eta", "eta_scale", "mfu", "attention_dtype", "prefill_gemm_dtype", "a2a", "a2a_scale",
              "peak_tflops", "context_scale", "chip"}
_META = {"text", "group", "in_range", "applies_to", "side"}


@dataclass(frozen=True)
class Inputs:
    """Everything one modeled point depends on."""

    chip: Chip
    deployment: Deployment
    workload: Workload
    factors: Factors


@dataclass(frozen=True)
class Scenario:
    id: str
    text: str
    group: str
    in_range: bool
    applies_to: str | tuple[str, ...]
    side: str
    overrides: dict[str, Any]

    def applies(self, chip: Chip) -> bool:
        """Whether this scenario is about ``chip`` (the target of a comparison)."""
        if self.applies_to == "uncalibrated":
            return chip.calibration is None
        return chip.name in self.applies_to

    def touches(self, side: str) -> bool:
        return self.side in (side, "both")

    def apply(self, inputs: Inputs, resolve_chip: Callable[[str], Chip]) -> Inputs:
        """``inputs`` with this scenario's overrides."""
        o = self.overrides
        chip, dep, work, factors = inputs.chip, inputs.deployment, inputs.workload, inputs.factors
        if "chip" in o:
            chip = resolve_chip(o["chip"])
        if "peak_tflops" in o:
            chip = chip.with_peaks({k: float(v) for k, v in o["peak_tflops"].items()})
        if "a2a" in o:
            chip = chip.with_a2a(a2a_record(o["a2a"]))
        if "a2a_scale" in o:
            chip = chip.with_a2a(chip.a2a.scaled(float(o["a2a_scale"])))
        if "eta" in o:
            factors = factors.replace(eta=_factor(o["eta"], "eta"))
        if "eta_scale" in o:
            factors = factors.replace(eta=factors.eta * float(o["eta_scale"]))
        if "mfu" in o:
            factors = factors.replace(mfu=_factor(o["mfu"], "mfu"))
        changes = {k: o[k] for k in ("attention_dtype", "prefill_gemm_dtype") if k in o}
        if changes:
            dep = dep.replace(**changes)
        if "context_scale" in o:
            work = work.replace(context=max(1, round(work.decode_context * float(o["context_scale"]))))
        return Inputs(chip, dep, work, factors)


def _factor(value: Any, name: str) -> float:
    if isinstance(value, str) and value.startswith("fit:"):
        return getattr(calibration(value[4:]), name)
    return float(value)


def load_scenarios() -> list[Scenario]:
    """Every scenario of ``data/sensitivities.toml``, validated."""
    result = []
    for sid, entry in data("sensitivities.toml").items():
        where = f"sensitivities.toml [{sid}]"
        unknown = set(entry) - _OVERRIDES - _META
        if unknown:
            raise PerfDataError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        applies = entry.get("applies_to", "uncalibrated")
        side = entry.get("side", "target")
        if side not in ("target", "baseline", "both"):
            raise PerfDataError(f"{where}: side must be target, baseline or both")
        result.append(Scenario(
            id=sid, text=entry.get("text", sid), group=entry.get("group", ""),
            in_range=bool(entry.get("in_range", False)),
            applies_to=applies if isinstance(applies, str) else tuple(applies),
            side=side, overrides={k: v for k, v in entry.items() if k in _OVERRIDES}))
    return result

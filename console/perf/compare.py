"""Side-by-side comparison of backends (pure: the CLI and the TUI only format it).

For every chip: the point figures with their label (and a range for chips
modeled by analogy), the ideal bound, and, against a baseline chip, the ratios
target / baseline with ranges. Press claims appear only under
:data:`PRESS_HEADING`, never as figures. Published measurements (vendor or
third party) appear beside the modeled figures, labelled
``measured by <who> (conditions)``, never as the console's own. ``explain`` adds per-op breakdowns, the
calibration residuals and the sensitivity table (what drives each ratio).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from console.perf.calibration import Factors, residuals
from console.perf.datafiles import PerfDataError, data
from console.perf.deployment import Deployment, Workload
from console.perf.hardware import Chip
from console.perf.measured import Published, nearest_published
from console.perf.prices import Price
from console.perf.profiles import ModelProfile
from console.perf.ranges import BackendResult, Ranged, default_resolver, evaluate, point_factors, run
from console.perf.scenarios import Inputs, Scenario, load_scenarios

PRESS_HEADING = "reported by the press, not measured"

#: Ratio name -> (metric, title). For every ratio, target / baseline.
RATIOS: dict[str, tuple[str, str]] = {
    "throughput_per_chip": ("tokens_per_s_per_chip", "throughput per chip"),
    "tpot": ("tpot_ms", "TPOT"),
    "tokens_per_s_per_user": ("tokens_per_s_per_user", "tok/s per user"),
    "ttft": ("ttft_ms", "TTFT"),
    "cost_per_m_output": ("usd_per_m_output", "cost per M output tokens"),
    "cost_per_m_input": ("usd_per_m_input", "cost per M input tokens"),
}
_PRESS_KEYS = {"throughput": ("throughput_per_chip",), "latency": ("ttft", "tpot"),
               "cost": ("cost_per_m_output",)}


@dataclass(frozen=True)
class SensitivityRow:
    """One scenario's effect on the target / baseline ratios."""

    id: str
    text: str
    group: str
    in_range: bool
    side: str
    ratios: dict[str, float | None]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Comparison:
    profile: ModelProfile
    deployment: Deployment
    workload: Workload
    baseline: str | None
    results: dict[str, BackendResult]
    ratios: dict[str, dict[str, Ranged]] = field(default_factory=dict)
    press: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sensitivity: dict[str, list[SensitivityRow]] = field(default_factory=dict)
    residuals: list[dict[str, Any]] = field(default_factory=list)
    published: dict[str, Published] = field(default_factory=dict)

    def as_dict(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.profile.summary(),
            "workload": dict(self.workload.__dict__, decode_context=self.workload.decode_context),
            "deployment": dict(self.deployment.__dict__),
            "baseline": self.baseline,
            "backends": {name: r.as_dict() for name, r in self.results.items()},
            "ratios": {t: {k: v.as_dict() for k, v in rs.items()} for t, rs in self.ratios.items()},
            "press": {"heading": PRESS_HEADING, "claims": self.press},
            "published": {name: p.as_dict() for name, p in self.published.items()},
        }
        if explain:
            out["explain"] = {
                "breakdown": {name: r.point.explain() for name, r in self.results.items()},
                "figures": {name: dict(r.chip.figures) for name, r in self.results.items()},
                "sensitivity": {t: [row.as_dict() for row in rows] for t, rows in self.sensitivity.items()},
                "calibration_residuals": self.residuals,
            }
        return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else a / b


def _ratios(target: BackendResult, base: BackendResult) -> dict[str, Ranged]:
    label = f"modeled: {target.label} / {base.label}"
    out = {}
    for name, (metric, _title) in RATIOS.items():
        b = base.point.metrics()[metric]
        value = _ratio(target.point.metrics()[metric], b)
        values = [_ratio(e.metrics()[metric], b) for e in target.scenarios.values()] + [value]
        values = [v for v in values if v is not None]
        if target.scenarios and values:
            out[name] = Ranged(value, min(values), max(values), label)
        else:
            out[name] = Ranged(value, None, None, label)
    return out


def press_claims(chip: Chip) -> dict[str, dict[str, Any]]:
    """The press claims about ``chip``, keyed by ratio name (empty if none apply)."""
    content = data("press.toml")
    if chip.name not in content.get("applies_to", ()):
        return {}
    out = {}
    for key, ratio_names in _PRESS_KEYS.items():
        claim = content.get(key)
        if claim:
            for name in ratio_names:
                out[name] = {"value": claim["value"], "text": claim["text"], "source": content["source"]}
    return out


def _sensitivity(profile: ModelProfile, target: BackendResult, base: BackendResult,
                 scenarios: list[Scenario], resolver, prices: Mapping[str, Price | None]) -> list[SensitivityRow]:
    def inputs(result: BackendResult) -> Inputs:
        p = result.point
        return Inputs(p.chip, p.deployment, p.workload, p.factors)

    rows = [SensitivityRow("baseline", "point estimate", "", True, "target",
                           {k: _ratio(target.point.metrics()[m], base.point.metrics()[m])
                            for k, (m, _t) in RATIOS.items()})]
    for s in scenarios:
        if not s.applies(target.chip):
            continue
        t_in, b_in = inputs(target), inputs(base)
        try:
            t = run(profile, s.apply(t_in, resolver), prices.get(target.chip.name)) if s.touches("target") else target.point
            b = run(profile, s.apply(b_in, resolver), prices.get(base.chip.name)) if s.touches("baseline") else base.point
        except PerfDataError:
            continue  # e.g. the scenario's chip cannot hold the model
        rows.append(SensitivityRow(s.id, s.text, s.group, s.in_range, s.side,
                                   {k: _ratio(t.metrics()[m], b.metrics()[m]) for k, (m, _t) in RATIOS.items()}))
    return rows


def pick_baseline(chips: list[Chip], wanted: str | None = None) -> str | None:
    names = [c.name for c in chips]
    if wanted is not None:
        if wanted not in names:
            raise PerfDataError(f"baseline {wanted!r} is not among the compared backends: {', '.join(names)}")
        return wanted
    if "h100" in names:
        return "h100"
    calibrated = [c.name for c in chips if c.calibration is not None]
    return (calibrated or names or [None])[0]


def compare(profile: ModelProfile, chips: list[Chip], dep: Deployment, workload: Workload,
            prices: Mapping[str, Price | None] | None = None, *, baseline: str | None = None,
            explain: bool = False, factors: Mapping[str, Factors] | None = None) -> Comparison:
    """Model ``profile`` on every chip and relate each to the baseline; beside
    each chip, the nearest published measurement of the same model on it.
    ``factors`` replaces the calibration of the chips it names."""
    if not chips:
        raise PerfDataError("nothing to compare: no hardware given")
    prices = prices or {}
    by_name = {c.name: c for c in chips}
    resolver = default_resolver(by_name)
    scenarios = load_scenarios()
    own = factors or {}
    results = {c.name: evaluate(profile, c, dep, workload, prices.get(c.name), scenarios=scenarios,
                                resolve_chip=resolver, factors=own.get(c.name)) for c in chips}
    base_name = pick_baseline(chips, baseline)
    comparison = Comparison(profile, dep, workload, base_name, results)
    for c in chips:
        found = nearest_published(c.name, profile.name, workload)
        if found is not None:
            comparison.published[c.name] = found
    if base_name is None:
        return comparison
    base = results[base_name]
    for name, result in results.items():
        if name == base_name:
            continue
        comparison.ratios[name] = _ratios(result, base)
        claims = press_claims(result.chip)
        if claims:
            comparison.press[name] = claims
        if explain:
            comparison.sensitivity[name] = _sensitivity(profile, result, base, scenarios, resolver, prices)
    if explain:
        comparison.residuals.extend(residuals(point_factors(base.chip)))
    return comparison

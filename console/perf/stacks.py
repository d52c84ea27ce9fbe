"""Serving stacks (``data/stacks.toml``): what the software brings to a decode step.

A measured run names its ``stack`` (SGLang with CUDA graphs, vLLM on ROCm in
eager mode, Huawei's cann-recipes executor...). A :class:`Stack` gives

* ``layer_latency_us``: the fixed time per decoder layer and forward pass
  that no batch amortises (kernel launches, minimum kernel durations);
* ``calibration``: the calibration whose efficiency factors the stack's runs
  use when a run names none (the efficiency is a property of the stack);
* ``format_efficiency``: ``{weight format: share}`` where a run measured the
  stack's kernels for that format slower than the calibration's (a number, or
  the id of the one run the share is fitted to, exactly, by bisection; that
  run then counts as fitted and every other run stays held out).

``console.perf.fitting.predict`` applies a run's stack to its deployment.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Mapping

from console.perf.datafiles import PerfDataError, data, require


@dataclass(frozen=True)
class Stack:
    """One serving stack (see the module doc)."""

    name: str
    text: str
    layer_latency_us: float
    calibration: str | None = None
    format_efficiency: Mapping[str, float | str] = dataclasses.field(default_factory=dict)
    source: str = ""

    def fit_runs(self) -> dict[str, str]:
        """``{run id: format}`` of the runs a format efficiency is fitted to."""
        return {v: fmt for fmt, v in self.format_efficiency.items() if isinstance(v, str)}

    def efficiency(self, fmt: str) -> float:
        """The kernel efficiency of ``fmt`` (fitted on first use when it names a run)."""
        value = self.format_efficiency.get(fmt, 1.0)
        return fitted_efficiency(self.name, fmt) if isinstance(value, str) else float(value)

    def apply(self, dep: Any, formats: tuple[str, ...]) -> Any:
        """``dep`` with this stack's layer latency and the efficiencies of the
        weight ``formats`` the run uses (only those are resolved)."""
        used = tuple((f, self.efficiency(f)) for f in dict.fromkeys(formats) if f in self.format_efficiency)
        return dep.replace(layer_latency_us=self.layer_latency_us, format_efficiency=used)

    def with_efficiency(self, fmt: str, value: float) -> Stack:
        return dataclasses.replace(self, format_efficiency={**self.format_efficiency, fmt: value})


def stack_names() -> list[str]:
    return list(data("stacks.toml"))


@functools.lru_cache(maxsize=None)
def stack(name: str) -> Stack:
    """Stack ``name`` of ``stacks.toml``; an unknown name lists the known ones."""
    content = data("stacks.toml")
    if name not in content:
        raise PerfDataError(f"unknown serving stack {name!r}; known: {', '.join(content)}")
    entry, where = content[name], f"stacks.toml [{name}]"
    latency = require(entry, "layer_latency_us", where)
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
        raise PerfDataError(f"{where}: layer_latency_us must be a number >= 0")
    return Stack(name, entry.get("text", name), float(latency), entry.get("calibration"),
                 dict(entry.get("format_efficiency", {})), entry.get("source", ""))


def stack_fit_runs() -> dict[str, str]:
    """``{run id: "stack <name> (<format> kernels)"}`` for every run a stack fits a share to."""
    return {rid: f"stack {name} ({fmt} kernels)" for name in stack_names()
            for rid, fmt in stack(name).fit_runs().items()}


@functools.lru_cache(maxsize=None)
def fitted_efficiency(name: str, fmt: str) -> float:
    """The share of ``fmt`` kernels in stack ``name`` that reproduces its fit run exactly."""
    from console.perf.calibration import calibration
    from console.perf.fitting import predict
    from console.perf.records import record

    st = stack(name)
    rec = record(str(st.format_efficiency[fmt]))
    factors = calibration(rec.calibration or require({"calibration": st.calibration}, "calibration",
                                                     f"stacks.toml [{name}]"))

    def error(share: float) -> float:
        value = predict(rec, factors.eta, factors.overlap, factors.mfu, stack=st.with_efficiency(fmt, share)).value
        faster = rec.metric != "tpot_ms"
        return (value - rec.measured) if faster else (rec.measured - value)

    low, high = 1e-3, 1.0
    if error(high) < 0:
        return 1.0  # the run is no slower than the calibration's kernels: nothing to fit
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (low, mid) if error(mid) > 0 else (mid, high)
    return (low + high) / 2

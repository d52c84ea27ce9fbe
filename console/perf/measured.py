"""Published measurements beside modeled figures (``compare`` and the TUI's compare view).

:func:`nearest_published` finds, for a chip and a target model, the shipped
measured run closest to the modeled workload (same hardware and model; nearest
per-chip batch, then context, on a log scale) and returns it with the model's
figure under the run's own conditions. It is shown labelled
``measured by <who> (conditions)`` and never as the console's own measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from console.perf.deployment import Workload
from console.perf.records import Record, records
from console.perf.validate import Row, check, measured_label

#: Console hardware names whose runs are recorded under the reference chip's name.
ALIASES = {"ascend950": "ascend950dt"}

_UNITS = {"output_tok_s_per_chip": "tok/s/chip", "tpot_ms": "ms TPOT", "prefill_tok_s_per_chip": "prefill tok/s/chip"}


@dataclass(frozen=True)
class Published:
    """A published measurement and the model's figure at the same conditions."""

    row: Row

    @property
    def record(self) -> Record:
        return self.row.record

    @property
    def label(self) -> str:
        return measured_label(self.record)

    def cell(self) -> str:
        """``5,831 tok/s/chip`` (the measured figure and its unit)."""
        r = self.record
        value = f"{r.measured:,.1f}" if r.measured < 100 else f"{r.measured:,.0f}"
        return f"{value} {_UNITS[r.metric]}"

    def note(self) -> str:
        """The label with the run's load and the model's error at those conditions."""
        r = self.record
        load = f"{r.batch_per_chip:g} seq/chip, context {r.context:,.0f}" if r.phase == "decode" else \
            f"{r.prompt_tokens:,}-token prompts"
        err = f"; model {self.row.modeled:,.0f} there ({self.row.error:+.0%})" if self.row.error is not None else ""
        return f"{self.label}: {r.run}, {load}{err} [{r.source}]"

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "cell": self.cell(), "note": self.note(), **self.row.as_dict()}


def _distance(rec: Record, workload: Workload) -> float:
    load = workload.concurrency or 1
    return (abs(math.log(max(rec.batch_per_chip, 1e-3) / load))
            + 0.5 * abs(math.log(max(rec.context, 1.0) / workload.decode_context)))


def nearest_published(hardware: str, model: str, workload: Workload) -> Published | None:
    """The shipped decode run on ``hardware`` for ``model`` nearest to ``workload``, if any."""
    name = ALIASES.get(hardware, hardware)
    candidates = [r for r in records() if r.matched and r.hardware == name and r.model == model
                  and r.phase == "decode" and r.kind != "user"]
    if not candidates:
        return None
    best = min(candidates, key=lambda r: _distance(r, workload))
    return Published(check(best))

"""Measured runs (``data/measurements.toml``): what the model is fitted to and checked against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.perf.datafiles import data, require, table
from console.perf.deployment import Deployment


@dataclass(frozen=True)
class Record:
    """One published measurement, per chip. Decode records carry their setup."""

    id: str
    run: str
    role: str
    hardware: str
    model: str
    phase: str
    tokens_per_s_per_chip: float
    source: str
    derivation: str = ""
    assumed: tuple[str, ...] = ()
    batch_per_chip: int = 0
    context: float = 0.0
    ep: int = 0
    redundant_experts: int = 0
    attention_dtype: str = "bf16"
    two_batch_overlap: bool = True
    prompt_tokens: int = 0

    @property
    def step_seconds(self) -> float:
        """Decode step time implied by the throughput: ``B / tok_s``."""
        return self.batch_per_chip / self.tokens_per_s_per_chip

    def deployment(self, base: Deployment) -> Deployment:
        """``base`` with this run's expert parallelism and attention precision."""
        if self.phase != "decode":
            return base
        return base.replace(ep=self.ep, redundant_experts=self.redundant_experts,
                            attention_dtype=self.attention_dtype)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def record(record_id: str) -> Record:
    """Record ``record_id``; an unknown id lists the known ones."""
    entry = table("measurements.toml", record_id)
    where = f"measurements.toml [{record_id}]"
    get = lambda key: require(entry, key, where)  # noqa: E731
    phase = get("phase")
    decode = phase == "decode"
    return Record(
        id=record_id,
        run=get("run"),
        role=entry.get("role", "reference"),
        hardware=get("hardware"),
        model=get("model"),
        phase=phase,
        tokens_per_s_per_chip=float(get("tokens_per_s_per_chip")),
        source=get("source"),
        derivation=entry.get("derivation", ""),
        assumed=tuple(entry.get("assumed", ())),
        batch_per_chip=int(get("batch_per_chip")) if decode else 0,
        context=float(get("context")) if decode else 0.0,
        ep=int(get("ep")) if decode else 0,
        redundant_experts=int(entry.get("redundant_experts", 0)),
        attention_dtype=entry.get("attention_dtype", "bf16"),
        two_batch_overlap=bool(entry.get("two_batch_overlap", True)),
        prompt_tokens=0 if decode else int(get("prompt_tokens")),
    )


def records() -> list[Record]:
    """Every shipped record, in file order."""
    return [record(name) for name in data("measurements.toml")]

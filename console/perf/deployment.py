"""How the target model is served (:class:`Deployment`) and what is asked of it (:class:`Workload`).

Defaults come from ``data/deployment.toml`` (the reference note's §7 setup:
PD-disaggregated, EP72 decode with 32 redundant experts, BF16 MLA core).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from console.perf.datafiles import PerfDataError, data
from console.perf.dtypes import nbytes


@dataclass(frozen=True)
class Deployment:
    """Serving setup of one decode instance (and its prefill side)."""

    pd_disaggregated: bool = True
    ep: int = 72
    redundant_experts: int = 32
    attention_dtype: str = "bf16"
    prefill_gemm_dtype: str = "fp8"
    prefill_attention_dtype: str = "fp8"
    dispatch_dtype: str = "fp8"
    combine_dtype: str = "bf16"
    a2a_latency_us: float = 20.0
    hbm_reserve_gb: float = 6.0
    utilization: float = 1.0

    def __post_init__(self) -> None:
        if self.ep < 1:
            raise PerfDataError(f"expert parallelism must be >= 1 (got {self.ep})")
        if self.redundant_experts < 0:
            raise PerfDataError("redundant_experts must be >= 0")
        if not 0 < self.utilization <= 1:
            raise PerfDataError(f"utilization must be in (0, 1] (got {self.utilization})")
        for dtype in (self.attention_dtype, self.prefill_gemm_dtype, self.prefill_attention_dtype,
                      self.dispatch_dtype,
                      self.combine_dtype):
            nbytes(dtype)

    def expert_slots(self, n_routed_experts: int) -> int:
        """Expert slots over the whole instance (routed + redundant)."""
        return n_routed_experts + self.redundant_experts

    def slots_per_chip(self, n_routed_experts: int) -> int:
        return math.ceil(self.expert_slots(n_routed_experts) / self.ep)

    def replace(self, **changes: Any) -> Deployment:
        return dataclasses.replace(self, **changes)


def default_deployment(**overrides: Any) -> Deployment:
    """``data/deployment.toml`` with ``overrides`` applied (``None`` values ignored)."""
    values = dict(data("deployment.toml"))
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(Deployment)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise PerfDataError(f"unknown deployment field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return Deployment(**values)


@dataclass(frozen=True)
class Workload:
    """One request shape and the load on each chip.

    ``concurrency``: sequences decoding together per chip (B). ``tpot_ms``: instead
    of a concurrency, the largest B whose step time meets this target is searched.
    ``context``: average KV length during decode (default: prompt + output / 2).
    """

    prompt_tokens: int = 2000
    output_tokens: int = 500
    context: int | None = None
    concurrency: int | None = 128
    tpot_ms: float | None = None

    def __post_init__(self) -> None:
        if self.prompt_tokens < 1 or self.output_tokens < 1:
            raise PerfDataError("prompt and output tokens must be >= 1")
        if self.context is not None and self.context < 1:
            raise PerfDataError(f"context must be >= 1 (got {self.context})")
        if (self.concurrency is None) == (self.tpot_ms is None):
            raise PerfDataError("give either a concurrency per chip or a TPOT target, not both")
        if self.concurrency is not None and self.concurrency < 1:
            raise PerfDataError(f"concurrency must be >= 1 (got {self.concurrency})")
        if self.tpot_ms is not None and self.tpot_ms <= 0:
            raise PerfDataError(f"TPOT target must be > 0 ms (got {self.tpot_ms})")

    @property
    def decode_context(self) -> float:
        if self.context is not None:
            return float(self.context)
        return self.prompt_tokens + self.output_tokens / 2

    def replace(self, **changes: Any) -> Workload:
        return dataclasses.replace(self, **changes)

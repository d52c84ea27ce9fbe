"""How the target model is served (:class:`Deployment`) and what is asked of it (:class:`Workload`).

Defaults come from ``data/deployment.toml`` (the reference note's §7 setup:
PD-disaggregated, EP72 decode with 32 redundant experts, BF16 MLA core, no
speculative decoding, experts balanced as well as the calibration runs' EPLB).

Parallelism of one decode instance: ``ep`` chips share the routed experts,
either spread over them (``moe_parallel = "ep"``, all-to-all dispatch/combine)
or every expert sharded over all of them (``"tp"``, an all-reduce instead);
attention and the other weights are data-parallel (``tp = 1``: every chip holds
them and its own sequences) or tensor-parallel over ``tp`` chips (weights split,
the single latent/MQA KV head replicated, an all-reduce per layer).
``ranks_per_chip``: serving ranks one package holds (2 on a 910C, whose two dies
are separate devices): each rank keeps and reads its own copy of the replicated
weights.

What the serving stack adds (``console/perf/data/stacks.toml``):
``layer_latency_us``, the fixed time per decoder layer per forward pass that
does not shrink with the batch (kernel launches and the minimum duration of
each kernel); ``format_efficiency``, a kernel efficiency for weights of one
format where a measured run shows that format's kernels slower than the
calibration's. The TP all-reduce latency is NCCL's latency model
(:mod:`console.perf.collectives`) unless ``allreduce_latency_us`` is given.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from console.perf.collectives import allreduce_latency_us
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
    tp: int = 1
    moe_parallel: str = "ep"
    mtp_depth: int = 0
    mtp_accepted: float = 0.0
    expert_balance: str = "eplb"
    forced_balance_imbalance: float = 1.0 / 1.1
    routed_weights: str | None = None
    other_weights: str | None = None
    routed_compute: str | None = None
    kv_cache_dtype: str | None = None
    allreduce_link: str = "scale-up"
    allreduce_efficiency: float = 0.5
    allreduce_latency_us: float | None = None
    gpus_per_node: int = 8
    layer_latency_us: float = 0.0
    ranks_per_chip: int = 1
    format_efficiency: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.ep < 1:
            raise PerfDataError(f"expert parallelism must be >= 1 (got {self.ep})")
        if self.redundant_experts < 0:
            raise PerfDataError("redundant_experts must be >= 0")
        if not 0 < self.utilization <= 1:
            raise PerfDataError(f"utilization must be in (0, 1] (got {self.utilization})")
        for dtype in (self.attention_dtype, self.prefill_gemm_dtype, self.prefill_attention_dtype,
                      self.dispatch_dtype, self.combine_dtype, self.routed_weights, self.other_weights,
                      self.routed_compute, self.kv_cache_dtype):
            if dtype is not None:
                nbytes(dtype)
        if self.tp < 1:
            raise PerfDataError(f"tensor parallelism must be >= 1 (got {self.tp})")
        if self.moe_parallel not in ("ep", "tp"):
            raise PerfDataError(f"moe_parallel must be 'ep' or 'tp' (got {self.moe_parallel!r})")
        if self.mtp_depth < 0 or not 0 <= self.mtp_accepted <= self.mtp_depth:
            raise PerfDataError(f"MTP: need depth >= 0 and 0 <= accepted <= depth "
                                f"(got depth {self.mtp_depth}, accepted {self.mtp_accepted})")
        if self.expert_balance not in ("eplb", "forced"):
            raise PerfDataError(f"expert_balance must be 'eplb' or 'forced' (got {self.expert_balance!r})")
        if self.layer_latency_us < 0 or self.ranks_per_chip < 1 or self.gpus_per_node < 1:
            raise PerfDataError("layer_latency_us must be >= 0, ranks_per_chip and gpus_per_node >= 1")
        for fmt, eff in self.format_efficiency:
            nbytes(fmt)
            if not 0 < eff <= 1:
                raise PerfDataError(f"format efficiency of {fmt} must be in (0, 1] (got {eff})")
        if self.allreduce_link not in ("scale-up", "scale-out"):
            raise PerfDataError(f"allreduce_link must be 'scale-up' or 'scale-out' (got {self.allreduce_link!r})")

    @property
    def tokens_per_step(self) -> float:
        """Output tokens one sequence gains per decode step: 1 + accepted drafts (MTP)."""
        return 1.0 + self.mtp_accepted

    @property
    def verify_tokens(self) -> int:
        """Tokens per sequence the main model runs each step: 1 + draft depth."""
        return 1 + self.mtp_depth

    @property
    def expert_imbalance(self) -> float:
        """Hottest chip's routed load / the calibration runs' (EPLB = 1 by definition).

        Forced (perfect) balance is the upper bound a vendor's offline run shows:
        ``forced_balance_imbalance`` (ASSUMPTION 1/1.1: the calibration's EPLB
        leaves the hottest chip about 10% above the mean). Only expert-parallel
        MoE has an imbalance; sharded (TP) experts load every chip alike."""
        if self.moe_parallel != "ep" or self.ep <= 1 or self.expert_balance == "eplb":
            return 1.0
        return self.forced_balance_imbalance

    def efficiency_of(self, dtype: str) -> float:
        """Kernel efficiency of ops on weights stored as ``dtype`` relative to the
        calibration's kernels (1 unless the serving stack says otherwise)."""
        return dict(self.format_efficiency).get(dtype, 1.0)

    @property
    def allreduce_us(self) -> float:
        """Fixed latency of one TP all-reduce: the given figure, else NCCL's model
        (``tp`` ranks; over the scale-out link they span ``tp / gpus_per_node`` nodes)."""
        if self.allreduce_latency_us is not None:
            return self.allreduce_latency_us
        nodes = math.ceil(self.tp / self.gpus_per_node) if self.allreduce_link == "scale-out" else 1
        return allreduce_latency_us(self.tp, nodes)

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

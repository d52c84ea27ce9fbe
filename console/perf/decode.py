"""The decode-step roofline, per chip, vectorised over the per-chip batch.

For each op group ``t_op = max(bytes / HBM_BW, FLOPs / peak(dtype))``:

* replicated weights: every non-expert matrix (attention projections, dense FFNs,
  shared experts, routers, head) read once per step, ``2 * params * B`` FLOPs;
* routed experts: the chip's expert slots, each read only if some token of the
  instance picked it (probability ``1 - (1 - 1/slots)^(EP*B*k)`` with uniform
  routing over all slots, redundant ones included); ``2 * expert_params`` FLOPs
  for each of the ``B*k`` token-expert pairs a balanced chip receives;
* attention core over the KV cache (see :mod:`console.perf.attention`).

``t_compute = sum(t_op) / eta``. All-to-all per MoE layer: the remote share
``(EP-1)/EP`` of ``B*k`` hidden vectors dispatched (FP8/INT8) and combined (BF16)
at the chip's effective bandwidths, plus a fixed latency per direction.
``step = max(t_c, t_comm) + (1 - overlap) * min(t_c, t_comm) + t_fixed``, where
``t_fixed = layer_latency_us * (layers + 2 * MTP depth)`` is the serving stack's
per-layer latency that no batch size amortises (kernel launches and minimum
kernel durations: about 10 us per layer with CUDA graphs, 10 times that in eager
mode; see ``data/stacks.toml``); it is neither divided by eta nor overlapped.

What the serving setup (:class:`~console.perf.deployment.Deployment`) changes:

* weights and KV cache formats (``routed_weights``, ``other_weights``,
  ``kv_cache_dtype``; ``routed_compute`` e.g. ``bf16`` for W4A16 kernels that
  dequantise FP4 experts): bytes at the stored format, FLOPs at the compute one;
* tensor parallelism ``tp``: the replicated weights are split over ``tp`` chips,
  each chip attends for the ``tp * B`` sequences of its group over a replicated
  KV cache (MLA and V4 have one KV head) with ``1/tp`` of the heads, and every
  layer ends in a ring all-reduce of ``tp * B`` BF16 hidden vectors (twice per
  layer when the experts are sharded too, ``moe_parallel = "tp"``, which then
  replaces the all-to-all) over the scale-up (or scale-out) link, each with
  NCCL's modeled latency (:mod:`console.perf.collectives`);
* ``ranks_per_chip`` (910C: 2 dies): every rank reads its own copy of the
  replicated weights, so a package reads them that many times per step;
* ``format_efficiency``: ops on weights of that format run at that share of the
  calibration's kernel speed (both bounds divided by it);
* MTP / speculative decoding: the main model verifies ``1 + depth`` tokens per
  sequence per step (FLOPs, expert picks and communication grow, the KV cache is
  read once), plus ``depth`` sequential draft passes, APPROXIMATED as two layers'
  worth of compute each (one MTP block and the output head); each step yields
  ``1 + accepted`` tokens per sequence;
* expert imbalance: the hottest chip's routed-expert time and all-to-all scale
  with :attr:`~console.perf.deployment.Deployment.expert_imbalance` (forced
  balance is the upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from console.perf.datafiles import PerfDataError
from console.perf.deployment import Deployment
from console.perf.dtypes import compute_dtype, nbytes, peak_flops
from console.perf.hardware import Chip
from console.perf.profiles import ModelProfile


@dataclass(frozen=True)
class OpTime:
    """One op group at each batch size: bytes, FLOPs and the two time bounds (seconds)."""

    name: str
    dtype: str
    bytes: np.ndarray
    flops: np.ndarray
    t_memory: np.ndarray
    t_flops: np.ndarray

    @property
    def seconds(self) -> np.ndarray:
        return np.maximum(self.t_memory, self.t_flops)

    def bound(self, i: int = 0) -> str:
        return "HBM" if self.t_memory.flat[i] >= self.t_flops.flat[i] else "compute"


@dataclass(frozen=True)
class StepBreakdown:
    """A decode step at each batch size in ``batch`` (all times in seconds)."""

    batch: np.ndarray
    context: float
    ops: tuple[OpTime, ...]
    eta: float
    overlap: float
    t_a2a: np.ndarray
    t_draft: np.ndarray | None = None
    tokens_per_step: float = 1.0
    t_fixed: float = 0.0

    @property
    def t_raw(self) -> np.ndarray:
        """Sum of the op times at efficiency 1, draft passes included."""
        total = sum((op.seconds for op in self.ops), np.zeros_like(self.t_a2a))
        return total if self.t_draft is None else total + self.t_draft

    @property
    def t_compute(self) -> np.ndarray:
        return self.t_raw / self.eta

    @property
    def step(self) -> np.ndarray:
        return overlap_step(self.t_compute, self.t_a2a, self.overlap) + self.t_fixed

    @property
    def tokens_per_s(self) -> np.ndarray:
        """Output tokens per second per chip: ``B * (1 + accepted) / step``."""
        return self.batch * self.tokens_per_step / self.step

    @property
    def tpot(self) -> np.ndarray:
        """Effective time per output token of one sequence: ``step / (1 + accepted)``."""
        return self.step / self.tokens_per_step

    def at(self, i: int = 0) -> dict[str, Any]:
        """JSON-ready view of batch index ``i`` (milliseconds)."""
        ms = lambda a: float(np.asarray(a).flat[i] * 1e3)  # noqa: E731
        return {
            "batch": int(self.batch.flat[i]),
            "context": self.context,
            "ops": [{"name": op.name, "dtype": op.dtype, "ms": ms(op.seconds), "bound": op.bound(i),
                     "gbytes": float(op.bytes.flat[i] / 1e9), "tflop": float(op.flops.flat[i] / 1e12)}
                    for op in self.ops],
            "eta": self.eta,
            "overlap": self.overlap,
            "draft_ms": ms(self.t_draft) if self.t_draft is not None else 0.0,
            "compute_ms": ms(self.t_compute),
            "a2a_ms": ms(self.t_a2a),
            "fixed_ms": self.t_fixed * 1e3,
            "step_ms": ms(self.step),
            "tokens_per_step": self.tokens_per_step,
            "tpot_ms": ms(self.tpot),
            "bound": "all-to-all" if self.t_a2a.flat[i] > self.t_compute.flat[i] else "compute/HBM",
        }


def overlap_step(t_compute: Any, t_a2a: Any, overlap: float) -> np.ndarray:
    """``max(t_c, t_a) + (1 - overlap) * min(t_c, t_a)``."""
    t_c, t_a = np.asarray(t_compute, np.float64), np.asarray(t_a2a, np.float64)
    return np.maximum(t_c, t_a) + (1.0 - overlap) * np.minimum(t_c, t_a)


def _op(name: str, chip: Chip, dtype: str, nbytes_: Any, flops: Any, attention: bool = False,
        efficiency: float = 1.0) -> OpTime:
    run_as = compute_dtype(chip.peak_tflops, dtype, attention=attention)
    nbytes_ = np.asarray(nbytes_, np.float64)
    flops = np.asarray(flops, np.float64)
    return OpTime(name, run_as, nbytes_, flops, nbytes_ / (chip.hbm_tbps * 1e12) / efficiency,
                  flops / peak_flops(chip.peak_tflops, dtype, attention=attention) / efficiency)


def served(profile: ModelProfile, dep: Deployment) -> ModelProfile:
    """``profile`` with the deployment's weight and KV-cache formats."""
    return profile.served_as(dep.routed_weights, dep.other_weights, dep.kv_cache_dtype)


def touched_probability(profile: ModelProfile, dep: Deployment, batch: Any) -> np.ndarray:
    """Probability that a given expert slot receives at least one token this step."""
    slots = dep.expert_slots(profile.n_routed_experts)
    picks = dep.ep * np.asarray(batch, np.float64) * profile.experts_per_token * dep.verify_tokens
    return 1.0 - np.power(1.0 - 1.0 / slots, picks)


def decode_ops(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any,
               context: float) -> tuple[OpTime, ...]:
    """The three op groups of one decode step at each batch size (``profile`` as served)."""
    b = np.asarray(batch, np.float64)
    tokens = b * dep.verify_tokens
    replicated = _op("replicated weights", chip, profile.other_dtype,
                     np.full_like(b, profile.replicated_bytes * dep.ranks_per_chip / dep.tp),
                     2.0 * profile.replicated_params * tokens, efficiency=dep.efficiency_of(profile.other_dtype))
    slots = dep.slots_per_chip(profile.n_routed_experts)
    hot = dep.expert_imbalance
    routed_bytes = slots * profile.moe_layers * profile.expert_bytes * touched_probability(profile, dep, b)
    routed_flops = tokens * profile.experts_per_token * profile.moe_layers * 2.0 * profile.expert_params
    routed = _op("routed experts", chip, dep.routed_compute or profile.routed_dtype,
                 routed_bytes * hot, routed_flops * hot, efficiency=dep.efficiency_of(profile.routed_dtype))
    attn = profile.attention
    attention = _op("attention core", chip, dep.attention_dtype,
                    dep.tp * b * attn.decode_bytes_per_token(context),
                    tokens * attn.decode_flops_per_token(context), attention=True)
    return replicated, routed, attention


def a2a_seconds(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any) -> np.ndarray:
    """Dispatch + combine time of one step, all MoE layers (seconds); 0 with sharded experts."""
    b = np.asarray(batch, np.float64)
    if dep.ep <= 1 or profile.moe_layers == 0 or dep.moe_parallel == "tp":
        return np.zeros_like(b)
    vectors = (b * dep.verify_tokens * profile.experts_per_token * profile.hidden_size
               * (dep.ep - 1) / dep.ep * dep.expert_imbalance)
    per_layer = (vectors * nbytes(dep.dispatch_dtype) / (chip.a2a.dispatch_gbps * 1e9)
                 + vectors * nbytes(dep.combine_dtype) / (chip.a2a.combine_gbps * 1e9)
                 + 2 * dep.a2a_latency_us * 1e-6)
    return profile.moe_layers * per_layer


def allreduce_seconds(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any) -> np.ndarray:
    """Ring all-reduces of tensor parallelism, all layers (seconds); 0 when ``tp = 1``."""
    b = np.asarray(batch, np.float64)
    if dep.tp <= 1:
        return np.zeros_like(b)
    link = chip.scale_up_gbps / 2 if dep.allreduce_link == "scale-up" else chip.scale_out_gbps
    if not link:
        raise PerfDataError(f"{chip.display_name}: tensor parallelism needs its {dep.allreduce_link} "
                            "bandwidth, which the hardware does not declare")
    message = dep.tp * b * dep.verify_tokens * profile.hidden_size * 2.0
    per_reduce = 2 * (dep.tp - 1) / dep.tp * message / (link * dep.allreduce_efficiency * 1e9)
    count = profile.num_layers * (2 if dep.moe_parallel == "tp" else 1)
    return count * (per_reduce + dep.allreduce_us * 1e-6)


def draft_seconds(ops: tuple[OpTime, ...], profile: ModelProfile, dep: Deployment) -> np.ndarray | None:
    """MTP draft passes at efficiency 1: ``depth`` x two layers' worth of one-token compute."""
    if dep.mtp_depth == 0:
        return None
    one_token = sum(op.seconds for op in ops) / dep.verify_tokens
    return dep.mtp_depth * one_token * 2.0 / profile.num_layers


def decode_step(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any, context: float,
                eta: float, overlap: float) -> StepBreakdown:
    """The step model at each batch size in ``batch`` (scalar or array)."""
    b = np.atleast_1d(np.asarray(batch, np.float64))
    profile = served(profile, dep)
    ops = decode_ops(profile, chip, dep, b, context)
    comm = a2a_seconds(profile, chip, dep, b) + allreduce_seconds(profile, chip, dep, b)
    return StepBreakdown(b, float(context), ops, float(eta), float(overlap), comm,
                         draft_seconds(ops, profile, dep), dep.tokens_per_step, fixed_seconds(profile, dep))


def fixed_seconds(profile: ModelProfile, dep: Deployment) -> float:
    """The stack's per-layer latency over one step: every layer of the main
    model plus two layers' worth per MTP draft pass (as :func:`draft_seconds`)."""
    return dep.layer_latency_us * 1e-6 * (profile.num_layers + 2 * dep.mtp_depth)


def weights_per_chip_bytes(profile: ModelProfile, dep: Deployment) -> float:
    """HBM taken by weights on one decode chip (its share of the replicated ones + its expert slots)."""
    profile = served(profile, dep)
    slots = dep.slots_per_chip(profile.n_routed_experts)
    return (profile.resident_replicated_bytes * dep.ranks_per_chip / dep.tp
            + slots * profile.moe_layers * profile.expert_bytes)


def kv_bytes_per_chip_sequence(profile: ModelProfile, dep: Deployment, context: float) -> float:
    """KV-cache bytes one chip holds per sequence of its own (``tp`` copies under TP attention)."""
    return dep.tp * float(served(profile, dep).kv_bytes_per_sequence(context))


def max_batch(profile: ModelProfile, chip: Chip, dep: Deployment, context: float) -> int:
    """Most sequences of KV length ``context`` one chip holds (0: weights do not fit)."""
    free = (chip.hbm_gb - dep.hbm_reserve_gb) * 1e9 - weights_per_chip_bytes(profile, dep)
    per_seq = kv_bytes_per_chip_sequence(profile, dep, context)
    return max(0, int(free // per_seq)) if free > 0 else 0

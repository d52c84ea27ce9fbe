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
``step = max(t_c, t_a2a) + (1 - overlap) * min(t_c, t_a2a)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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

    @property
    def t_raw(self) -> np.ndarray:
        return sum((op.seconds for op in self.ops), np.zeros_like(self.t_a2a))

    @property
    def t_compute(self) -> np.ndarray:
        return self.t_raw / self.eta

    @property
    def step(self) -> np.ndarray:
        return overlap_step(self.t_compute, self.t_a2a, self.overlap)

    @property
    def tokens_per_s(self) -> np.ndarray:
        return self.batch / self.step

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
            "compute_ms": ms(self.t_compute),
            "a2a_ms": ms(self.t_a2a),
            "step_ms": ms(self.step),
            "bound": "all-to-all" if self.t_a2a.flat[i] > self.t_compute.flat[i] else "compute/HBM",
        }


def overlap_step(t_compute: Any, t_a2a: Any, overlap: float) -> np.ndarray:
    """``max(t_c, t_a) + (1 - overlap) * min(t_c, t_a)``."""
    t_c, t_a = np.asarray(t_compute, np.float64), np.asarray(t_a2a, np.float64)
    return np.maximum(t_c, t_a) + (1.0 - overlap) * np.minimum(t_c, t_a)


def _op(name: str, chip: Chip, dtype: str, nbytes_: Any, flops: Any, attention: bool = False) -> OpTime:
    run_as = compute_dtype(chip.peak_tflops, dtype, attention=attention)
    nbytes_ = np.asarray(nbytes_, np.float64)
    flops = np.asarray(flops, np.float64)
    return OpTime(name, run_as, nbytes_, flops, nbytes_ / (chip.hbm_tbps * 1e12),
                  flops / peak_flops(chip.peak_tflops, dtype, attention=attention))


def touched_probability(profile: ModelProfile, dep: Deployment, batch: Any) -> np.ndarray:
    """Probability that a given expert slot receives at least one token this step."""
    slots = dep.expert_slots(profile.n_routed_experts)
    picks = dep.ep * np.asarray(batch, np.float64) * profile.experts_per_token
    return 1.0 - np.power(1.0 - 1.0 / slots, picks)


def decode_ops(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any,
               context: float) -> tuple[OpTime, ...]:
    """The three op groups of one decode step at each batch size."""
    b = np.asarray(batch, np.float64)
    replicated = _op("replicated weights", chip, profile.other_dtype,
                     np.full_like(b, profile.replicated_bytes), 2.0 * profile.replicated_params * b)
    slots = dep.slots_per_chip(profile.n_routed_experts)
    routed_bytes = slots * profile.moe_layers * profile.expert_bytes * touched_probability(profile, dep, b)
    routed_flops = b * profile.experts_per_token * profile.moe_layers * 2.0 * profile.expert_params
    routed = _op("routed experts", chip, profile.routed_dtype, routed_bytes, routed_flops)
    attn = profile.attention
    attention = _op("attention core", chip, dep.attention_dtype,
                    b * attn.decode_bytes_per_token(context), b * attn.decode_flops_per_token(context),
                    attention=True)
    return replicated, routed, attention


def a2a_seconds(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any) -> np.ndarray:
    """Dispatch + combine time of one step, all MoE layers (seconds)."""
    b = np.asarray(batch, np.float64)
    if dep.ep <= 1 or profile.moe_layers == 0:
        return np.zeros_like(b)
    vectors = b * profile.experts_per_token * profile.hidden_size * (dep.ep - 1) / dep.ep
    per_layer = (vectors * nbytes(dep.dispatch_dtype) / (chip.a2a.dispatch_gbps * 1e9)
                 + vectors * nbytes(dep.combine_dtype) / (chip.a2a.combine_gbps * 1e9)
                 + 2 * dep.a2a_latency_us * 1e-6)
    return profile.moe_layers * per_layer


def decode_step(profile: ModelProfile, chip: Chip, dep: Deployment, batch: Any, context: float,
                eta: float, overlap: float) -> StepBreakdown:
    """The step model at each batch size in ``batch`` (scalar or array)."""
    b = np.atleast_1d(np.asarray(batch, np.float64))
    return StepBreakdown(b, float(context), decode_ops(profile, chip, dep, b, context),
                         float(eta), float(overlap), a2a_seconds(profile, chip, dep, b))


def weights_per_chip_bytes(profile: ModelProfile, dep: Deployment) -> float:
    """HBM taken by weights on one decode chip (replicated + its expert slots)."""
    slots = dep.slots_per_chip(profile.n_routed_experts)
    return profile.resident_replicated_bytes + slots * profile.moe_layers * profile.expert_bytes


def max_batch(profile: ModelProfile, chip: Chip, dep: Deployment, context: float) -> int:
    """Most sequences of KV length ``context`` one chip holds (0: weights do not fit)."""
    free = (chip.hbm_gb - dep.hbm_reserve_gb) * 1e9 - weights_per_chip_bytes(profile, dep)
    per_seq = float(profile.kv_bytes_per_sequence(context))
    return max(0, int(free // per_seq)) if free > 0 else 0

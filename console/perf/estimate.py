"""One modeled serving point: throughput, latency and cost of a model on a chip.

:func:`estimate` picks the per-chip batch (the given concurrency, capped by HBM
capacity, or the largest batch meeting a TPOT target), runs the decode-step and
prefill models and prices the result. Colocated (aggregated, non-PD) serving
shares each chip between prefill and decode: throughput and TPOT are scaled by
the decode share of chip time; cost per token is unchanged. With MTP the TPOT is
the effective one (step / tokens per step), as vendors report it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from console.perf.calibration import Factors
from console.perf.datafiles import PerfDataError
from console.perf.decode import (
    StepBreakdown,
    decode_step,
    kv_bytes_per_chip_sequence,
    max_batch,
    weights_per_chip_bytes,
)
from console.perf.deployment import Deployment, Workload
from console.perf.hardware import Chip
from console.perf.prefill import describe as describe_prefill
from console.perf.prefill import colocated_share, prefill_tokens_per_s
from console.perf.prices import Price, usd_per_million
from console.perf.profiles import ModelProfile

#: The figures an estimate reports, with their units (compare and the TUI use this order).
METRICS: dict[str, str] = {
    "tokens_per_s_per_chip": "tok/s",
    "tpot_ms": "ms",
    "tokens_per_s_per_user": "tok/s",
    "ttft_ms": "ms",
    "usd_per_m_output": "$/M",
    "usd_per_m_input": "$/M",
}


@dataclass(frozen=True)
class Estimate:
    """A modeled serving point (times in seconds unless named ``_ms``)."""

    chip: Chip
    profile: ModelProfile
    factors: Factors
    deployment: Deployment
    workload: Workload
    batch: int
    max_batch: int
    step: StepBreakdown
    tokens_per_s_per_chip: float
    tpot_s: float
    prefill_tokens_per_s: float
    ttft_s: float
    price: Price | None
    tpot_target_met: bool = True

    @property
    def tokens_per_s_per_user(self) -> float:
        return 1.0 / self.tpot_s

    @property
    def usd_per_m_output(self) -> float | None:
        if self.price is None:
            return None
        return usd_per_million(self.price.usd_per_hour, self.tokens_per_s_per_chip,
                               self.deployment.utilization)

    @property
    def usd_per_m_input(self) -> float | None:
        if self.price is None:
            return None
        return usd_per_million(self.price.usd_per_hour, self.prefill_tokens_per_s,
                               self.deployment.utilization)

    @property
    def label(self) -> str:
        return self.factors.label

    def metrics(self) -> dict[str, float | None]:
        return {
            "tokens_per_s_per_chip": self.tokens_per_s_per_chip,
            "tpot_ms": self.tpot_s * 1e3,
            "tokens_per_s_per_user": self.tokens_per_s_per_user,
            "ttft_ms": self.ttft_s * 1e3,
            "usd_per_m_output": self.usd_per_m_output,
            "usd_per_m_input": self.usd_per_m_input,
        }

    def explain(self) -> dict[str, Any]:
        """JSON-ready breakdown: per-op times, bounds, capacity, prefill inputs."""
        return {
            "step": self.step.at(0),
            "capacity": {
                "hbm_gb": self.chip.hbm_gb,
                "weights_gb": weights_per_chip_bytes(self.profile, self.deployment) / 1e9,
                "kv_mb_per_sequence": kv_bytes_per_chip_sequence(self.profile, self.deployment,
                                                                  self.step.context) / 1e6,
                "reserve_gb": self.deployment.hbm_reserve_gb,
                "max_batch": self.max_batch,
            },
            "prefill": describe_prefill(self.profile, self.chip, self.deployment,
                                        self.workload.prompt_tokens),
            "factors": self.factors.as_dict(),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "hardware": self.chip.name,
            "model": self.profile.name,
            "batch_per_chip": self.batch,
            "max_batch_per_chip": self.max_batch,
            "context": self.step.context,
            "tpot_target_met": self.tpot_target_met,
            **self.metrics(),
            "label": self.label,
            "price": self.price.as_dict() if self.price else None,
        }


def _choose_batch(profile: ModelProfile, chip: Chip, dep: Deployment, workload: Workload,
                  factors: Factors, limit: int) -> tuple[int, bool]:
    if workload.concurrency is not None:
        return min(workload.concurrency, limit), True
    sweep = decode_step(profile, chip, dep, np.arange(1, limit + 1), workload.decode_context,
                        factors.eta, factors.overlap)
    ok = np.nonzero(sweep.tpot <= workload.tpot_ms / 1e3)[0]
    return (int(ok[-1]) + 1, True) if ok.size else (1, False)


def estimate(profile: ModelProfile, chip: Chip, dep: Deployment, workload: Workload,
             factors: Factors, price: Price | None = None, prefill_chip: Chip | None = None) -> Estimate:
    """Model ``profile`` served on ``chip`` (prefill on ``prefill_chip``, default the same)."""
    context = workload.decode_context
    limit = max_batch(profile, chip, dep, context)
    if limit < 1:
        raise PerfDataError(
            f"{profile.display_name} does not fit on {chip.display_name} at EP{dep.ep}: "
            f"{weights_per_chip_bytes(profile, dep) / 1e9:.1f} GB of weights per chip, "
            f"{chip.hbm_gb:g} GB HBM (raise the expert parallelism)")
    batch, met = _choose_batch(profile, chip, dep, workload, factors, limit)
    step = decode_step(profile, chip, dep, batch, context, factors.eta, factors.overlap)
    rate = prefill_tokens_per_s(profile, prefill_chip or chip, dep, workload.prompt_tokens, factors.mfu)
    tokens_per_s, tpot = float(step.tokens_per_s[0]), float(step.tpot[0])
    if not dep.pd_disaggregated:
        share = colocated_share(workload.output_tokens, tpot, batch, workload.prompt_tokens, rate)
        tokens_per_s, tpot = tokens_per_s * share, tpot / share
        met = met and (workload.tpot_ms is None or tpot <= workload.tpot_ms / 1e3)
    return Estimate(chip, profile, factors, dep, workload, batch, limit, step, tokens_per_s, tpot,
                    rate, ttft_floor(workload.prompt_tokens / rate, profile, chip, dep, factors), price, met)


def ttft_floor(prefill_s: float, profile: ModelProfile, chip: Chip, dep: Deployment,
               factors: Factors) -> float:
    """TTFT is never below one forward pass at batch 1.

    The MFU-based prefill rate is a throughput; a short prompt still needs one
    whole pass that reads every weight and crosses every all-to-all, which is
    what a batch-1 decode step costs. Without this floor a 10-token prompt would
    show a TTFT of about a millisecond.
    """
    one_pass = float(decode_step(profile, chip, dep, 1, 0.0, factors.eta, factors.overlap).step[0])
    return max(prefill_s, one_pass)

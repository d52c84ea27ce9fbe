"""Prefill: ``rate = MFU x peak / FLOPs per token``; ``TTFT = prompt / rate``.

FLOPs per prompt token = ``2 * active params`` (GEMMs, at the deployment's
prefill GEMM precision) + attention at the full prompt length (at the prefill
attention precision, BF16 where the chip has no FP8). One prompt per
data-parallel rank, no queueing and no KV transfer to the decode side: TTFT is a
lower bound of what a loaded system shows. ``estimate`` never lets TTFT fall
below one batch-1 forward pass (see ``console.perf.estimate.ttft_floor``).
"""

from __future__ import annotations

from console.perf.deployment import Deployment
from console.perf.dtypes import compute_dtype, peak_flops
from console.perf.hardware import Chip
from console.perf.profiles import ModelProfile


def seconds_per_token_at_peak(profile: ModelProfile, chip: Chip, dep: Deployment, prompt: float) -> float:
    """Time per prompt token if every FLOP ran at the chip's peak (MFU = 1)."""
    gemm = profile.prefill_gemm_flops_per_token() / peak_flops(chip.peak_tflops, dep.prefill_gemm_dtype)
    attention = float(profile.prefill_attention_flops_per_token(prompt)) / peak_flops(
        chip.peak_tflops, dep.prefill_attention_dtype, attention=True)
    return gemm + attention


def prefill_tokens_per_s(profile: ModelProfile, chip: Chip, dep: Deployment, prompt: float,
                         mfu: float) -> float:
    """Prompt tokens per second per chip at model-FLOPs utilisation ``mfu``."""
    return mfu / seconds_per_token_at_peak(profile, chip, dep, prompt)


def colocated_share(output_tokens: float, tpot_s: float, batch: float, prompt_tokens: float,
                    prefill_tokens_per_s: float) -> float:
    """Share of chip time spent decoding when prefill runs on the same chips:
    each of the ``batch`` sequences decodes ``output_tokens`` and was prefilled once."""
    decode_time = output_tokens * tpot_s
    return decode_time / (decode_time + batch * prompt_tokens / prefill_tokens_per_s)


def ttft_seconds(profile: ModelProfile, chip: Chip, dep: Deployment, prompt: float, mfu: float) -> float:
    return prompt / prefill_tokens_per_s(profile, chip, dep, prompt, mfu)


def describe(profile: ModelProfile, chip: Chip, dep: Deployment, prompt: float) -> dict[str, object]:
    """JSON-ready view of the prefill inputs for --explain."""
    return {
        "gemm_gflop_per_token": profile.prefill_gemm_flops_per_token() / 1e9,
        "attention_gflop_per_token": float(profile.prefill_attention_flops_per_token(prompt)) / 1e9,
        "gemm_dtype": compute_dtype(chip.peak_tflops, dep.prefill_gemm_dtype),
        "attention_dtype": compute_dtype(chip.peak_tflops, dep.prefill_attention_dtype, attention=True),
        "ms_per_token_at_peak": seconds_per_token_at_peak(profile, chip, dep, prompt) * 1e3,
    }

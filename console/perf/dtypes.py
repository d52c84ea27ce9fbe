"""Numeric formats: bytes per element and which peak a chip runs them at."""

from __future__ import annotations

from typing import Mapping

from console.perf.datafiles import PerfDataError

#: Bytes per element. MXFP4 (``fp4``, ``mxfp4``) carries one E8M0 scale byte per
#: 32 elements, NVFP4 one FP8 scale per 16; MXFP8 one scale per 32.
BYTES: dict[str, float] = {
    "fp4": 0.5 + 1 / 32,
    "mxfp4": 0.5 + 1 / 32,
    "nvfp4": 0.5 + 1 / 16,
    "mxfp8": 1.0 + 1 / 32,
    "fp8": 1.0,
    "int8": 1.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp32": 4.0,
}

#: When a chip has no peak for a format, the next format it would run it in.
#: FP8 and INT8 stand in for each other (910C runs DeepSeek in INT8); FP4 weights
#: run at the FP8 rate on chips without FP4 units (e.g. H100).
_FALLBACK: dict[str, tuple[str, ...]] = {
    "fp4": ("fp4", "fp8", "int8", "bf16"),
    "mxfp4": ("fp4", "fp8", "int8", "bf16"),
    "nvfp4": ("fp4", "fp8", "int8", "bf16"),
    "mxfp8": ("fp8", "int8", "bf16"),
    "fp8": ("fp8", "int8", "bf16"),
    "int8": ("int8", "fp8", "bf16"),
    "bf16": ("bf16", "fp16"),
    "fp16": ("fp16", "bf16"),
}

#: Attention cores have no integer path: FP8 attention falls back to BF16.
_ATTENTION_FALLBACK: dict[str, tuple[str, ...]] = {
    "fp8": ("fp8", "bf16"),
    "mxfp8": ("fp8", "bf16"),
    "fp4": ("fp8", "bf16"),
    "bf16": ("bf16", "fp16"),
}


#: The peak a format runs at: every 4-bit float format at the chip's ``fp4`` peak.
PEAK_KEY: dict[str, str] = {"mxfp4": "fp4", "nvfp4": "fp4", "mxfp8": "fp8"}


def nbytes(dtype: str) -> float:
    """Bytes per element of ``dtype``."""
    try:
        return BYTES[dtype]
    except KeyError:
        raise PerfDataError(f"unknown dtype {dtype!r}; known: {', '.join(BYTES)}") from None


def compute_dtype(peaks: Mapping[str, float], dtype: str, *, attention: bool = False) -> str:
    """The format a chip with ``peaks`` (TFLOPS per dtype) actually computes ``dtype`` in."""
    order = (_ATTENTION_FALLBACK if attention else _FALLBACK).get(dtype, (dtype,))
    order = tuple(PEAK_KEY.get(d, d) for d in order)
    for candidate in order:
        if peaks.get(candidate):
            return candidate
    raise PerfDataError(f"no peak for {dtype!r} or a fallback; chip has {sorted(peaks)}")


def peak_flops(peaks: Mapping[str, float], dtype: str, *, attention: bool = False) -> float:
    """FLOP/s (not TFLOPS) at which ``dtype`` runs on a chip with ``peaks``."""
    return float(peaks[compute_dtype(peaks, dtype, attention=attention)]) * 1e12

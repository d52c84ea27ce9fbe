"""Rotary position embeddings (default, linear, YaRN) as precomputed float32 tables.

One layout is used everywhere: rotate-half pairs ``(x_i, x_{i+d/2})``. Checkpoints that use the
interleaved (complex / ``rope_interleave``) layout get the rope rows of their query and key
projections permuted to ``[0, 2, 4, ..., 1, 3, 5, ...]`` when the weights are prepared (see
``weights.interleave_perm``), which makes the two layouts give identical attention scores.
Tables grow by doubling as positions are used, so a 160k-position config costs nothing upfront.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .config import RopeConfig


def inverse_frequencies(rope: RopeConfig, dim: int) -> tuple[np.ndarray, float]:
    """Per-pair frequencies (float32, length dim/2) and the cos/sin attention factor (HF RU)."""
    exponents = np.arange(0, dim, 2, dtype=np.float64) / dim
    pos_freqs = rope.theta ** exponents
    inv = 1.0 / pos_freqs
    if rope.rope_type == "linear":
        return (inv / rope.factor).astype(np.float32), 1.0
    if rope.rope_type != "yarn":
        return inv.astype(np.float32), 1.0
    s = rope.factor

    def get_mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if rope.attention_factor is not None:
        attention = rope.attention_factor
    elif rope.mscale and rope.mscale_all_dim:
        attention = get_mscale(s, rope.mscale) / get_mscale(s, rope.mscale_all_dim)
    else:
        attention = get_mscale(s)
    l0 = rope.original_max_position_embeddings

    def correction_dim(rotations: float) -> float:
        return dim * math.log(l0 / (rotations * 2 * math.pi)) / (2 * math.log(rope.theta))

    low, high = correction_dim(rope.beta_fast), correction_dim(rope.beta_slow)
    if rope.truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    extrapolation = 1.0 - ramp
    inv = (inv / s) * (1.0 - extrapolation) + inv * extrapolation
    return inv.astype(np.float32), float(attention)


class Rope:
    """cos/sin tables for ``dim`` rope channels; ``apply`` rotates (..., dim) vectors."""

    def __init__(self, rope: RopeConfig, dim: int, initial: int = 256) -> None:
        self.dim = dim
        self.inv_freq, self.attention_factor = inverse_frequencies(rope, dim)
        half = dim // 2
        self._perm = np.concatenate([np.arange(half, dim), np.arange(half)])
        self._lock = threading.Lock()
        self.cos = self.sin = np.zeros((0, dim), np.float32)
        self.ensure(initial)

    def ensure(self, n: int) -> None:
        """Make the tables cover positions ``0..n-1``."""
        if n <= len(self.cos):
            return
        with self._lock:
            size = max(n, 2 * len(self.cos), 64)
            # Same arithmetic as HF: float32 positions times float32 frequencies.
            angles = np.arange(size, dtype=np.float32)[:, None] * self.inv_freq[None, :]
            a = np.float64(self.attention_factor)
            cos = (np.cos(angles.astype(np.float64)) * a).astype(np.float32)
            sin = (np.sin(angles.astype(np.float64)) * a).astype(np.float32)
            cos_full = np.concatenate([cos, cos], axis=1)
            sin_signed = np.concatenate([-sin, sin], axis=1)   # rotate_half(x)*sin == x[perm]*sin_signed
            self.sin, self.cos = sin_signed, cos_full

    def lookup(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Tables for ``positions`` (N,), looked up once per forward pass and shared by all layers:
        (cos, sin) shaped (N, dim) for 2-D inputs and (N, 1, dim) for (N, heads, dim) inputs."""
        self.ensure(int(positions.max()) + 1)
        cos, sin = self.cos[positions], self.sin[positions]
        return cos, sin, cos[:, None, :], sin[:, None, :]

    def apply(self, x: np.ndarray, tables: tuple) -> np.ndarray:
        """Rotate ``x`` (N, dim) or (N, heads, dim) with ``lookup`` tables; returns a new array."""
        cos, sin = (tables[0], tables[1]) if x.ndim == 2 else (tables[2], tables[3])
        out = x * cos
        out += x[..., self._perm] * sin
        return out

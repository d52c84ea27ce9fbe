"""Interleaved (pairwise) RoPE on the trailing ``dim`` channels of V4 heads, with its inverse.

V4 rotates channel pairs ``(2i, 2i+1)`` of the last ``rope_dim`` channels of each query, key and
compressed entry, and rotates the attention output back by the query position (because V4's
values carry rope too). Frequencies (default or YaRN) come from the engine's
:func:`~console.engine.rope.inverse_frequencies`; cos/sin are float32 tables grown by doubling,
computed as transformers does (float32 angle, unscaled: V4's YaRN uses attention factor 1).
"""

from __future__ import annotations

import threading

import numpy as np

from ..config import RopeConfig
from ..rope import inverse_frequencies


class PairRope:
    def __init__(self, rope: RopeConfig, dim: int, initial: int = 256) -> None:
        self.dim = dim
        self.inv_freq, factor = inverse_frequencies(rope, dim)
        self.factor = np.float64(factor)
        self._lock = threading.Lock()
        self.cos = self.sin = np.zeros((0, dim // 2), np.float32)
        self.ensure(initial)

    def ensure(self, n: int) -> None:
        """Make the tables cover positions ``0..n-1``."""
        if n <= len(self.cos):
            return
        with self._lock:
            size = max(n, 2 * len(self.cos), 64)
            angles = (np.arange(size, dtype=np.float32)[:, None] * self.inv_freq[None, :]).astype(np.float64)
            self.cos = (np.cos(angles) * self.factor).astype(np.float32)
            self.sin = (np.sin(angles) * self.factor).astype(np.float32)

    def tables(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cos, sin), each (N, dim / 2), for ``positions`` (N,)."""
        self.ensure(int(positions.max()) + 1 if len(positions) else 1)
        return self.cos[positions], self.sin[positions]

    def rotate(self, x: np.ndarray, cos: np.ndarray, sin: np.ndarray, inverse: bool = False) -> np.ndarray:
        """Rotate the last ``dim`` channels of ``x`` (N, ..., D) in place (by minus the angle when
        ``inverse``); cos/sin are (N, dim / 2) tables. Returns ``x``."""
        shape = (cos.shape[0],) + (1,) * (x.ndim - 2) + (cos.shape[1],)
        c, s = cos.reshape(shape), sin.reshape(shape)
        if inverse:
            s = -s
        tail = x[..., x.shape[-1] - self.dim:]
        even, odd = tail[..., 0::2].copy(), tail[..., 1::2].copy()
        tail[..., 0::2] = even * c - odd * s
        tail[..., 1::2] = even * s + odd * c
        return x

"""Interleaved (pairwise) RoPE on the trailing ``dim`` channels of V4 heads, with its inverse.

V4 rotates channel pairs ``(2i, 2i+1)`` of the last ``rope_dim`` channels of each query, key and
compressed entry, and rotates the attention output back by the query position (because V4's
values carry rope too). A pair is a complex number ``x_2i + i x_2i+1``, so a rotation is one
in-place complex64 multiply of the channels' complex view by ``cos + i sin`` (its conjugate for
the inverse): one numpy call per rotated array, no copies. Frequencies (default or YaRN) come
from the engine's :func:`~console.engine.rope.inverse_frequencies`; the tables are computed as
transformers does (float32 angle, unscaled: V4's YaRN uses attention factor 1) and grow by
doubling.
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
        self.cis = self.cis_inverse = np.zeros((0, dim // 2), np.complex64)
        self.ensure(initial)

    def ensure(self, n: int) -> None:
        """Make the tables cover positions ``0..n-1``."""
        if n <= len(self.cis):
            return
        with self._lock:
            size = max(n, 2 * len(self.cis), 64)
            angles = (np.arange(size, dtype=np.float32)[:, None] * self.inv_freq[None, :]).astype(np.float64)
            cis = np.empty((size, self.dim // 2), np.complex64)
            cis.real = (np.cos(angles) * self.factor).astype(np.float32)
            cis.imag = (np.sin(angles) * self.factor).astype(np.float32)
            self.cis_inverse, self.cis = np.conj(cis), cis

    def tables(self, positions: np.ndarray) -> np.ndarray:
        """The rotations ``cos + i sin`` (N, dim / 2) complex64 of ``positions`` (N,)."""
        self.ensure(int(positions.max()) + 1 if len(positions) else 1)
        return self.cis[positions]

    def at(self, position: int, inverse: bool = False) -> np.ndarray:
        """The rotation (dim / 2,) of one position (its inverse when ``inverse``)."""
        self.ensure(position + 1)
        return (self.cis_inverse if inverse else self.cis)[position]

    def rotate(self, x: np.ndarray, cis: np.ndarray, inverse: bool = False) -> np.ndarray:
        """Rotate the last ``dim`` channels of ``x`` (N, ..., D) in place by ``cis`` (N, dim / 2)
        from :meth:`tables` (by minus the angle when ``inverse``), or by one (dim / 2,) rotation
        for every row. ``x``'s last axis must be contiguous. Returns ``x``."""
        if inverse:
            cis = np.conj(cis)
        if cis.ndim == 2:
            cis = cis.reshape((cis.shape[0],) + (1,) * (x.ndim - 2) + (cis.shape[1],))
        tail = x[..., x.shape[-1] - self.dim:].view(np.complex64)
        tail *= cis
        return x

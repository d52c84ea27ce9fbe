"""Small float32 numeric kernels shared by the layers.

Matrices are stored TRANSPOSED, ``wt`` = (in, out) C-contiguous float32, prepared once per layer,
and applied by :func:`lin` as ``x @ wt``. Measured on the project machine (OpenBLAS, one
thread, weights streamed from DRAM) for one token: 25.6 vs 10.3 GB/s for an (8192, 256) LM head,
22 vs 15 GB/s for (16384, 1024) and 10-12 vs 8 GB/s for 1024-wide projections compared with
``W @ x`` on the stored (out, in) layout; 2-4 tokens run as a loop of GEMVs (``np.vecmat``), which
re-reads the matrix from cache instead of packing it for a small GEMM (2x the bandwidth); from
``GEMV_ROWS + 1`` tokens on it is one GEMM, where both layouts are about equal.
"""

from __future__ import annotations

import math

import numpy as np

#: Up to this many rows, :func:`lin` runs one vector-matrix product per row instead of a GEMM.
GEMV_ROWS = 4
_vecmat = getattr(np, "vecmat", None)   # numpy >= 2.2: a loop of GEMVs in C


def transposed(w: np.ndarray) -> np.ndarray:
    """A weight (out, in) as the (in, out) C-contiguous float32 array :func:`lin` expects."""
    return np.ascontiguousarray(np.asarray(w, dtype=np.float32).T)


def lin(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``x @ wt`` (m, out) for x (m, in) and a :func:`transposed` weight wt (in, out), float32."""
    m = x.shape[0]
    if m > GEMV_ROWS:
        return np.matmul(x, wt)
    if _vecmat is not None:
        return _vecmat(x, wt)
    out = np.empty((m, wt.shape[1]), np.float32)
    for i in range(m):
        np.matmul(x[i], wt, out=out[i])
    return out


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """``weight * x / sqrt(mean(x^2) + eps)`` over the last axis of x (N, D) (HF RMSNorm, float32)."""
    if x.shape[0] == 1:   # one row (batch-1 decode): the scale is a scalar, three numpy calls
        row = x[0]
        scale = 1.0 / math.sqrt(float(np.dot(row, row)) / row.shape[0] + eps)
        return x * (weight * scale)
    var = np.einsum("...i,...i->...", x, x)[..., None]
    var *= 1.0 / x.shape[-1]
    var += eps
    np.sqrt(var, out=var)
    out = x / var
    out *= weight
    return out


def silu_mul(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``silu(gate) * up`` in float32, three temporaries at most."""
    t = np.negative(gate)
    np.exp(t, out=t)
    t += 1.0
    np.divide(gate, t, out=t)
    t *= up
    return t


def softmax_inplace(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place (float32). -inf entries become 0."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def sigmoid(x: np.ndarray) -> np.ndarray:
    t = np.negative(x)
    np.exp(t, out=t)
    t += 1.0
    np.reciprocal(t, out=t)
    return t


def causal_mask(q_start: int, q_len: int, k_len: int, window: int | None = None) -> np.ndarray:
    """Additive float32 mask (q_len, k_len): 0 where key j is visible to query at q_start+i."""
    qpos = np.arange(q_start, q_start + q_len)[:, None]
    kpos = np.arange(k_len)[None, :]
    hidden = kpos > qpos
    if window is not None:
        hidden |= kpos <= qpos - window
    return np.where(hidden, np.float32(-np.inf), np.float32(0.0))

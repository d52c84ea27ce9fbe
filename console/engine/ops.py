"""Small float32 numeric kernels shared by the layers.

Matrices are stored TRANSPOSED, ``wt`` = (in, out) C-contiguous float32, prepared once per layer,
and applied by :func:`lin` as ``x @ wt``. Measured on the project machine (OpenBLAS, one
thread, weights streamed from DRAM) for one token: 25.6 vs 10.3 GB/s for an (8192, 256) LM head,
22 vs 15 GB/s for (16384, 1024) and 10-12 vs 8 GB/s for 1024-wide projections compared with
``W @ x`` on the stored (out, in) layout; 2-4 tokens run as a loop of GEMVs (``np.vecmat``), which
re-reads the matrix from cache instead of packing it for a small GEMM (2x the bandwidth); from
``GEMV_ROWS + 1`` tokens on it is one GEMM, where both layouts are about equal.

Most matrices are stored in column chunks instead, ``(out / c, in, c)`` contiguous with
``c = CHUNK_COLS`` (or half of it) (:func:`pack`), and applied as one batched matmul
``x @ chunks``: one small GEMM per chunk (128 KB for 1024 inputs), which stays in L2 while every
row of x uses it; the result is written straight into its columns of the (m, out) output. Measured on the project machine (OpenBLAS 0.3.31, one thread, 1024-wide expert matrices
streamed from DRAM, paired runs): for 2-4 rows 1.7-2x the speed of a GEMV loop and 4-5x that of
one ``(m, 1024) @ (1024, 1024)`` GEMM (OpenBLAS's small-M GEMM packs the whole matrix); for one
row 1.1-1.2x a GEMV; for 16 rows 2-3x one GEMM. Narrow outputs (at most ``CHUNK_NARROW_OUT``
columns) are chunked whatever their input width: OpenBLAS's GEMV streams them at half speed
((256, 256): 8-11 GB/s cold), chunks 1.5-2x faster (paired runs, every (256|128, <=1024) shape of
the ~15M bench model). Matrices with fewer input rows AND wider outputs (its (256, 2048) MLP and
(256, 8192) LM head) stay 2-D: there a GEMV is faster (chunks: 0.8-0.95x).
"""

from __future__ import annotations

import math

import numpy as np

#: Up to this many rows, :func:`lin` runs one vector-matrix product per row instead of a GEMM.
GEMV_ROWS = 4
#: Column-chunk width of packed matrices (half of it when the output width needs that); chunks
#: are used for inputs of at least ``CHUNK_MIN_IN`` rows, and for outputs of at most
#: ``CHUNK_NARROW_OUT`` columns whatever the input.
CHUNK_COLS = 32
CHUNK_MIN_IN = 384
CHUNK_NARROW_OUT = 1024
#: From this many rows on, a chunked matrix is copied back to (in, out) for one big GEMM
#: (measured: the copy costs less than the ~15% that per-chunk GEMMs lose to it at 256+ rows).
UNPACK_ROWS = 256
_vecmat = getattr(np, "vecmat", None)   # numpy >= 2.2: a loop of GEMVs in C


def pack(wt: np.ndarray) -> np.ndarray:
    """A weight ``wt`` (..., in, out) in the layout :func:`lin` streams fastest, float32.

    Column chunks (..., out / c, in, c), chunk j holding output columns ``j*c .. (j+1)*c - 1``,
    with c from :func:`chunk_width`; (..., in, out) C-contiguous when that is None (narrow
    input and wide output, or an output width that is not a multiple of ``CHUNK_COLS / 2``).
    Leading axes (a stack of experts) are kept.
    """
    wt = np.asarray(wt, dtype=np.float32)
    k, n = wt.shape[-2:]
    c = chunk_width(k, n)
    if c is None:
        return np.ascontiguousarray(wt)
    chunks = wt.reshape(*wt.shape[:-2], k, n // c, c)
    return np.ascontiguousarray(np.moveaxis(chunks, -2, -3))


def chunk_width(k: int, n: int) -> int | None:
    """Columns per chunk for a (k, n) matrix, or None to keep it 2-D (see the module doc)."""
    if k < CHUNK_MIN_IN and n > CHUNK_NARROW_OUT:
        return None
    for c in (CHUNK_COLS, CHUNK_COLS // 2):
        if n % c == 0 and n > c:
            return c
    return None


def transposed(w: np.ndarray) -> np.ndarray:
    """A weight (out, in) as :func:`pack` lays out its transpose (in, out), for :func:`lin`."""
    return pack(np.asarray(w, dtype=np.float32).T)


def lin(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``x @ W`` (m, out) for x (m, in) and one :func:`transposed`/:func:`pack`-ed weight, float32."""
    m = x.shape[0]
    if wt.ndim == 3:
        if m >= UNPACK_ROWS:              # prefill: one big GEMM on a temporary (in, out) copy
            return np.matmul(x, wt.transpose(1, 0, 2).reshape(wt.shape[1], wt.shape[0] * wt.shape[2]))
        return lin_into(x, wt, np.empty((m, wt.shape[0] * wt.shape[2]), np.float32))
    if m > GEMV_ROWS:
        return np.matmul(x, wt)
    if _vecmat is not None:
        return _vecmat(x, wt)
    return lin_into(x, wt, np.empty((m, wt.shape[1]), np.float32))


def lin_into(x: np.ndarray, wt: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`lin` written into ``out`` (m, out) -- C-contiguous rows, e.g. a row slice of a
    bigger buffer -- without a temporary; returns ``out``."""
    m = x.shape[0]
    if wt.ndim == 3 and m >= UNPACK_ROWS:
        np.matmul(x, wt.transpose(1, 0, 2).reshape(wt.shape[1], wt.shape[0] * wt.shape[2]), out=out)
    elif wt.ndim == 3:                    # one small GEMM per column chunk, into its columns
        np.matmul(x, wt, out=out.reshape(m, wt.shape[0], wt.shape[2]).transpose(1, 0, 2))
    elif m > GEMV_ROWS:
        np.matmul(x, wt, out=out)
    elif _vecmat is not None:
        _vecmat(x, wt, out=out)
    else:
        for i in range(m):
            np.matmul(x[i], wt, out=out[i])
    return out


def rms_scale(row: np.ndarray, eps: float) -> float:
    """``1 / sqrt(mean(row^2) + eps)`` of one vector, as a Python float (one numpy call)."""
    return 1.0 / math.sqrt(float(np.dot(row, row)) / row.shape[0] + eps)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """``weight * x / sqrt(mean(x^2) + eps)`` over the last axis of x (N, D) (HF RMSNorm, float32)."""
    if x.shape[0] == 1:   # one row (batch-1 decode): the scale is a scalar, three numpy calls
        return x * (weight * rms_scale(x[0], eps))
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


def padding_mask(positions: np.ndarray, length: int) -> np.ndarray:
    """Additive float32 mask (B, 1, length): 0 for keys 0..positions[b] of row b, -inf after."""
    hidden = np.arange(length)[None, :] > positions[:, None]
    return np.where(hidden, np.float32(-np.inf), np.float32(0.0))[:, None, :]


def causal_mask(q_start: int, q_len: int, k_len: int, window: int | None = None) -> np.ndarray:
    """Additive float32 mask (q_len, k_len): 0 where key j is visible to query at q_start+i."""
    qpos = np.arange(q_start, q_start + q_len)[:, None]
    kpos = np.arange(k_len)[None, :]
    hidden = kpos > qpos
    if window is not None:
        hidden |= kpos <= qpos - window
    return np.where(hidden, np.float32(-np.inf), np.float32(0.0))

"""The layout V4's matrices are stored in: column chunks 64 wide.

Like :func:`console.engine.ops.pack` (which :func:`~console.engine.ops.lin` applies), but with
chunks of 64 columns instead of ``ops.CHUNK_COLS`` (32): measured on the project machine
(OpenBLAS 0.3.31, one thread, the ~430M V4 bench model's matrix set streamed from DRAM, paired
rounds), one token runs at 14.6 GB/s with 64-wide chunks against 12.4 with 32-wide ones (the
per-chunk call overhead halves) and 14.9 on plain (in, out) matrices, while 2 tokens keep the
chunks' advantage (13.6 vs 13.2 and 8.8 plain) and 16 tokens are equal (6.1 vs 6.2, 4.8 plain).
Widths that 64 does not divide fall back to ``ops.pack``.
"""

from __future__ import annotations

import numpy as np

from ..ops import lin, pack

CHUNK = 64


def pack_wide(wt: np.ndarray) -> np.ndarray:
    """A weight ``wt`` (..., in, out) as (..., out / 64, in, 64) column chunks, float32."""
    wt = np.asarray(wt, dtype=np.float32)
    k, n = wt.shape[-2:]
    if n % CHUNK or n <= CHUNK:
        return pack(wt)
    return np.ascontiguousarray(np.moveaxis(wt.reshape(*wt.shape[:-2], k, n // CHUNK, CHUNK), -2, -3))


def gather(parts: list[object]) -> None:
    """Copy the arrays each part names in its ``STREAMED`` attribute names, in that order, into
    one contiguous buffer and rebind the attributes to views of it.

    Why: a decode step reads a layer's dense matrices one after another; from one buffer (in
    that order, hugepage-backed as numpy allocates large arrays) they stream faster than as
    separate allocations: measured on the ~430M V4 bench model, 1.09x decode tok/s (paired
    rounds, 27.3 -> 29.8 tok/s). Routed experts stay in their per-layer stacks (which expert is
    read next depends on the token)."""
    slots = [(part, name) for part in parts for name in part.STREAMED]
    arrays = [getattr(part, name) for part, name in slots]
    align = 16                                   # floats: every view starts on a 64-byte line
    sizes = [-(-a.size // align) * align for a in arrays]
    buffer = np.empty(sum(sizes), np.float32)
    offset = 0
    for (part, name), array, size in zip(slots, arrays, sizes):
        view = buffer[offset:offset + array.size].reshape(array.shape)
        view[...] = array
        setattr(part, name, view)
        offset += size


def apply(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``x @ W`` (m, out) for a :func:`pack_wide`-ed weight: :func:`~console.engine.ops.lin`,
    except that one row against column chunks is a single batched product whose (chunks, 1, c)
    result is already the row (two numpy calls instead of four; between the streamed matrices
    of a decode step every small call runs with cold caches and costs microseconds)."""
    if x.shape[0] == 1 and wt.ndim == 3:
        return np.matmul(x, wt).reshape(1, -1)
    return lin(x, wt)

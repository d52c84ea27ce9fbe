"""The layout V4's matrices are stored in, and the buffer a layer's matrices share.

Column chunks 128 wide (64, then ``ops.pack``'s 32, when 128 does not divide the width): like
:func:`console.engine.ops.pack` (which :func:`~console.engine.ops.lin` applies), with wider
chunks than ``ops.CHUNK_COLS``. Measured on the project machine (OpenBLAS 0.3.31, one thread,
batch-1 decode of the ~430M V4 bench model, paired rounds in one process): 128-wide chunks run
1.06x the tokens/s of 64-wide ones, 256-wide 0.87x, plain (in, out) matrices 0.99x; 64-wide
ran 1.18x the 32-wide ones on its matrix set (14.6 vs 12.4 GB/s: the per-chunk call overhead
halves). Two tokens favour narrower chunks (64: 13.6 GB/s, 128: 11.6), and routed experts see a
few tokens each in a batch, so the MoE's matrices stay 64 wide (``MOE_CHUNKS``): measured, all
128-wide vs attention 128 / MoE 64: batch 1 1.035x, batch 16 (generation loop) 0.92x.
"""

from __future__ import annotations

import numpy as np

from ..ops import lin, pack

CHUNKS = (128, 64)
MOE_CHUNKS = (64,)


def pack_wide(wt: np.ndarray, chunks: tuple[int, ...] = CHUNKS) -> np.ndarray:
    """A weight ``wt`` (..., in, out) as (..., out / c, in, c) column chunks, float32, with the
    first c of ``chunks`` that divides ``out`` (``ops.pack`` when none does)."""
    wt = np.asarray(wt, dtype=np.float32)
    k, n = wt.shape[-2:]
    for c in chunks:
        if n % c == 0 and n > c:
            return np.ascontiguousarray(np.moveaxis(wt.reshape(*wt.shape[:-2], k, n // c, c), -2, -3))
    return pack(wt)


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

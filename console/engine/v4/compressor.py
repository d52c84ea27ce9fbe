"""V4's KV compressor (HCA and CSA) and the Lightning Indexer.

**Compressor.** Every token projects ``kv = W_kv h`` and gate logits ``z = W_gate h +
ape[pos mod ratio]``. A window of ``ratio`` tokens closes at positions ``ratio - 1, 2 ratio - 1 ...``
and yields one entry ``rms_norm(sum_j softmax_j(z_j) * kv_j)`` (softmax over the window's rows,
per channel), roped (compress rope) at the window's first position; entry ``i`` is visible to a
query at position ``p`` only when ``i < (p + 1) // ratio`` -- its window has closed. HCA windows
do not overlap. CSA (``ratio`` 4) projects ``2 head_dim`` channels: entry ``w`` pools window
``w - 1``'s first-half channels together with window ``w``'s second-half channels (softmax over
``2 ratio`` rows; entry 0 has no previous window). The state between calls (the open window, the
previous window's first halves) lives in :class:`~console.engine.v4.cache.CompressorState`, so a
prompt may arrive in chunks and the result equals one pass.

**Lightning Indexer** (CSA layers): its own overlapping compressor at ``index_head_dim``, queries
``W_qI c_Q`` (``index_n_heads`` heads, roped at the query position), score
``I[t, s] = sum_h w[t, h] relu(q[t, h] . K[s]) / sqrt(index_head_dim)`` with
``w = W_w h / sqrt(index_n_heads)``, restricted to visible entries; each query keeps its top
``index_topk`` (all of them when fewer are visible). DeepSeek's reference also passes q and K
through a Hadamard rotation and an FP4 quantise-dequantise simulation; the rotation is orthonormal
and does not change ``q . K``; the FP4 simulation is not reproduced (transformers does not either).
"""

from __future__ import annotations

import numpy as np

from ..ops import lin, rms_norm, transposed
from .cache import CompressorState
from .rope import PairRope


class Compressor:
    def __init__(self, wkv: np.ndarray, wgate: np.ndarray, ape: np.ndarray, norm: np.ndarray, ratio: int,
                 dim: int, rope: PairRope, eps: float) -> None:
        self.ratio, self.dim, self.overlap = ratio, dim, ratio == 4
        self.width = wkv.shape[0]                     # (1 + overlap) dim
        self.w = transposed(np.concatenate([wkv, wgate]))
        self.ape, self.norm, self.rope, self.eps = ape.astype(np.float32), norm, rope, eps

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.w, self.ape, self.norm]

    def new_state(self) -> CompressorState:
        return CompressorState(self.width, self.dim, self.overlap)

    def project(self, h: np.ndarray) -> np.ndarray:
        return lin(h, self.w)

    def update(self, state: CompressorState, projected: np.ndarray, start: int) -> None:
        """Feed the projected rows of positions ``start ..`` and append every entry whose window
        closes among them to ``state``."""
        m, width = self.ratio, self.width
        kv, score = projected[:, :width], projected[:, width:] + self.ape[np.arange(start, start + len(projected)) % m]
        kv = np.concatenate([state.buf_kv, kv]) if len(state.buf_kv) else kv
        score = np.concatenate([state.buf_score, score]) if len(state.buf_score) else score
        windows = len(kv) // m
        cut = windows * m
        state.buf_kv, state.buf_score = np.ascontiguousarray(kv[cut:]), np.ascontiguousarray(score[cut:])
        if windows == 0:
            return
        kv, score = kv[:cut].reshape(windows, m, width), score[:cut].reshape(windows, m, width)
        if self.overlap:
            kv, score = self._overlap(state, kv, score)
        weights = score - score.max(axis=1, keepdims=True)
        np.exp(weights, out=weights)
        weights /= weights.sum(axis=1, keepdims=True)
        entries = rms_norm(np.einsum("wjd,wjd->wd", weights, kv), self.norm, self.eps)
        first = state.count
        cos, sin = self.rope.tables((first + np.arange(windows)) * m)
        state.append(self.rope.rotate(entries, cos, sin))

    def _overlap(self, state: CompressorState, kv: np.ndarray, score: np.ndarray):
        """(windows, m, 2 d) rows -> (windows, 2 m, d): previous window's first halves, then this
        window's second halves; remembers the last window's first halves for the next call."""
        d, (windows, m, _) = self.dim, kv.shape
        pooled_kv = np.zeros((windows, 2 * m, d), np.float32)
        pooled_score = np.full((windows, 2 * m, d), -np.inf, np.float32)
        pooled_kv[:, m:], pooled_score[:, m:] = kv[:, :, d:], score[:, :, d:]
        pooled_kv[1:, :m], pooled_score[1:, :m] = kv[:-1, :, :d], score[:-1, :, :d]
        if state.prev_kv is not None:
            pooled_kv[0, :m], pooled_score[0, :m] = state.prev_kv, state.prev_score
        state.prev_kv, state.prev_score = kv[-1, :, :d].copy(), score[-1, :, :d].copy()
        return pooled_kv, pooled_score


class Indexer:
    def __init__(self, wq_b: np.ndarray, weights_proj: np.ndarray, compressor: Compressor, heads: int,
                 dim: int, topk: int, rope: PairRope) -> None:
        self.wq = transposed(wq_b)
        self.w_weights = transposed(weights_proj * np.float32(heads ** -0.5 * dim ** -0.5))
        self.compressor, self.heads, self.dim, self.topk, self.rope = compressor, heads, dim, topk, rope

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.wq, self.w_weights, *self.compressor.decode_arrays()]

    def scores(self, qr: np.ndarray, h: np.ndarray, keys: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Index scores (T, n) of queries at ``positions`` over the first n entries ``keys``;
        entries not yet visible score -inf."""
        T = len(positions)
        q = lin(qr, self.wq).reshape(T, self.heads, self.dim)
        self.rope.rotate(q, *self.rope.tables(positions))
        dots = np.maximum(np.einsum("thd,sd->ths", q, keys), 0.0)
        out = np.einsum("th,ths->ts", lin(h, self.w_weights), dots)
        visible = (positions + 1) // self.compressor.ratio
        out[np.arange(keys.shape[0])[None, :] >= visible[:, None]] = -np.inf
        return out

    def select(self, scores: np.ndarray, positions: np.ndarray) -> list[np.ndarray]:
        """Per query, the indices of its top ``topk`` visible entries (all when fewer)."""
        visible = (positions + 1) // self.compressor.ratio
        picks = []
        for row, n in zip(scores, visible.tolist()):
            if n <= self.topk:
                picks.append(np.arange(n))
            else:
                picks.append(np.sort(np.argpartition(-row[:n], self.topk - 1)[:self.topk]))
        return picks

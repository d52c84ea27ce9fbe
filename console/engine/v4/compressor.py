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
prompt may arrive in chunks and the result equals one pass. The projection itself is fused into
the attention's input matrix (``rows`` are its weight rows); ``update`` takes its output.

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
        self.rows = np.concatenate([wkv, wgate])      # (2 width, H): fused into the attention's input matrix
        self.ape, self.norm, self.rope, self.eps = ape.astype(np.float32), norm, rope, eps

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.ape, self.norm]

    def new_state(self) -> CompressorState:
        return CompressorState(self.ratio, self.width, self.dim, self.overlap)

    def update(self, state: CompressorState, projected: np.ndarray, start: int) -> None:
        """Feed the projected rows ``[kv | gate]`` of positions ``start ..`` and append every entry
        whose window closes among them to ``state``."""
        m, f = self.ratio, state.filled
        if len(projected) == 1:                        # one decode token: no concatenation
            state.open_rows[f] = projected[0]
            state.filled = f + 1
            if state.filled == m:
                state.filled = 0
                self._close(state, state.open_rows[None])
            return
        rows = np.concatenate([state.open_rows[:f], projected]) if f else projected
        windows = len(rows) // m
        cut = windows * m
        state.open_rows[:len(rows) - cut], state.filled = rows[cut:], len(rows) - cut
        if windows:
            self._close(state, rows[:cut].reshape(windows, m, -1))

    def _close(self, state: CompressorState, rows: np.ndarray) -> None:
        """Pool closed windows' projected rows (windows, m, 2 width) into entries appended to
        ``state``; row j of a window is at position ``j mod m``, so its bias is ``ape[j]``."""
        windows, m = rows.shape[:2]
        kv, score = rows[:, :, :self.width], rows[:, :, self.width:] + self.ape
        if self.overlap:
            kv, score = self._overlap(state, kv, score)
        weights = score - score.max(axis=1, keepdims=True)
        np.exp(weights, out=weights)
        weights /= weights.sum(axis=1, keepdims=True)
        entries = rms_norm(np.einsum("wjd,wjd->wd", weights, kv), self.norm, self.eps)
        cis = self.rope.tables((state.count + np.arange(windows)) * m)
        state.append(self.rope.rotate(entries, cis))

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
    STREAMED = ("w_weights",)

    def __init__(self, wq_b: np.ndarray, weights_proj: np.ndarray, compressor: Compressor, heads: int,
                 dim: int, topk: int, rope: PairRope) -> None:
        self.rows = wq_b                              # (heads dim, q_lora_rank): fused into the query matrix
        self.w_weights = transposed(weights_proj * np.float32(heads ** -0.5 * dim ** -0.5))
        self.compressor, self.heads, self.dim, self.topk, self.rope = compressor, heads, dim, topk, rope

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.w_weights, *self.compressor.decode_arrays()]

    def head_weights(self, h: np.ndarray) -> np.ndarray:
        return lin(h, self.w_weights)

    def pick(self, q: np.ndarray, w: np.ndarray, keys: np.ndarray, visible: np.ndarray):
        """Queries ``q`` (B, heads, dim) (roped), head weights ``w`` (B, heads), over ``keys``
        (n, dim): per query the ``topk`` best of its ``visible`` (B,) first entries, as
        ``(index (B, k), valid (B, k))`` with ``k = min(topk, n)``; ``valid`` is False where a
        query sees fewer than ``k`` entries (those slots are padding)."""
        B, n = q.shape[0], keys.shape[0]
        dots = np.matmul(q.reshape(B * self.heads, self.dim), keys.T).reshape(B, self.heads, n)
        np.maximum(dots, 0.0, out=dots)
        scores = np.matmul(w[:, None, :], dots)[:, 0]                   # (B, n)
        seen = np.arange(n)[None, :] < visible[:, None]
        scores[~seen] = -np.inf
        if n <= self.topk:
            return np.broadcast_to(np.arange(n), (B, n)), seen
        index = np.argpartition(-scores, self.topk - 1, axis=1)[:, :self.topk]
        return index, np.take_along_axis(seen, index, axis=1)

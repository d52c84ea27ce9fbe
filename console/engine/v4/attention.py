"""DeepSeek-V4 attention: shared-KV MQA over a sliding window plus compressed entries.

Per token: ``c_Q = rms_norm(W_qa h)``; queries ``W_qb c_Q`` per head, each RMS-normalised without
weight; one shared head ``kv = rms_norm(W_kv h)`` serves as key and value; interleaved RoPE on the
last ``rope_dim`` channels of both (plain ``rope_theta`` on sliding-only layers, the YaRN
``compress`` rope on compressed layers). A query at ``p`` attends to keys at ``p - window < j <= p``
and, on compressed layers, to the compressed entries it may see (HCA: all closed windows; CSA: the
Lightning Indexer's top-k of them), with scale ``head_dim^-1/2`` and a learned per-head sink logit
in the softmax denominator. The output's rope channels are rotated back by ``p``; the output
projection is grouped: heads split into ``o_groups``, each group -> ``o_lora_rank`` by its block of
``wo_a``, then ``wo_b``. Queries are processed in blocks of ``BLOCK`` so long prompts need
O(BLOCK x (BLOCK + window)) memory, not O(T^2).
"""

from __future__ import annotations

import numpy as np

from ..ops import lin, rms_norm, transposed
from .cache import LayerState
from .compressor import Compressor, Indexer
from .config import V4Config
from .rope import PairRope

BLOCK = 256


class V4Attention:
    def __init__(self, cfg: V4Config, w: dict[str, np.ndarray], rope: PairRope,
                 compressor: Compressor | None, indexer: Indexer | None) -> None:
        self.cfg, self.rope, self.compressor, self.indexer = cfg, rope, compressor, indexer
        self.heads, self.dim, self.window, self.eps = cfg.num_attention_heads, cfg.head_dim, cfg.sliding_window, cfg.rms_norm_eps
        self.q_rank = cfg.q_lora_rank
        self.w_a = transposed(np.concatenate([w["wq_a"], w["wkv"]]))       # h -> [q_a | kv]
        self.q_norm, self.kv_norm = w["q_norm"], w["kv_norm"]
        self.w_qb = transposed(w["wq_b"])
        g, r = cfg.o_groups, cfg.o_lora_rank
        self.wo_a = np.ascontiguousarray(w["wo_a"].reshape(g, r, -1).transpose(0, 2, 1))   # (g, in_g, r)
        self.wo_b = transposed(w["wo_b"])
        self.sinks = w["sinks"].astype(np.float32)
        self.scale = np.float32(self.dim ** -0.5)
        self.trace: list | None = None          # when a list, CSA layers append their top-k picks

    def decode_arrays(self) -> list[np.ndarray]:
        arrays = [self.w_a, self.q_norm, self.kv_norm, self.w_qb, self.wo_a, self.wo_b, self.sinks]
        for part in (self.compressor, self.indexer):
            if part is not None:
                arrays += part.decode_arrays()
        return arrays

    def new_state(self) -> LayerState:
        state = LayerState(self.window, self.dim)
        if self.compressor is not None:
            state.compressor = self.compressor.new_state()
        if self.indexer is not None:
            state.indexer = self.indexer.compressor.new_state()
        return state

    def __call__(self, h: np.ndarray, segments: list[tuple[int, int, int, LayerState]]) -> np.ndarray:
        """h (N, H) for all rows; ``segments`` = (first row, rows, start position, layer state)
        per sequence. Returns the attention output (N, H); updates each state."""
        N = h.shape[0]
        a = lin(h, self.w_a)
        qr = rms_norm(np.ascontiguousarray(a[:, :self.q_rank]), self.q_norm, self.eps)
        kv = rms_norm(np.ascontiguousarray(a[:, self.q_rank:]), self.kv_norm, self.eps)
        q = lin(qr, self.w_qb).reshape(N, self.heads, self.dim)
        q /= np.sqrt(np.einsum("nhd,nhd->nh", q, q) / self.dim + self.eps)[:, :, None]
        positions = np.concatenate([np.arange(s, s + n) for _, n, s, _ in segments])
        cos, sin = self.rope.tables(positions)
        self.rope.rotate(q, cos, sin)
        self.rope.rotate(kv, cos, sin)
        comp = self.compressor.project(h) if self.compressor is not None else None
        idx = self.indexer.compressor.project(h) if self.indexer is not None else None
        out = np.empty((N, self.heads, self.dim), np.float32)
        for r0, n, start, state in segments:
            rows = slice(r0, r0 + n)
            pos = positions[rows]
            if comp is not None:
                self.compressor.update(state.compressor, comp[rows], start)
            if idx is not None:
                self.indexer.compressor.update(state.indexer, idx[rows], start)
            self._attend(q[rows], kv[rows], qr[rows], h[rows], pos, state, out[rows])
            state.write_window(kv[rows], pos)
        self.rope.rotate(out, cos, sin, inverse=True)
        return self._project(out)

    def _attend(self, q, kv, qr, h, pos, state: LayerState, out) -> None:
        ring_ok = state.ring_pos >= 0
        ring, ring_pos = state.ring[ring_ok], state.ring_pos[ring_ok]
        entries = state.compressor.view() if state.compressor is not None else None
        picks = None
        if self.indexer is not None and entries is not None and len(entries):
            scores = self.indexer.scores(qr, h, state.indexer.view(), pos)
            picks = self.indexer.select(scores, pos)
            if self.trace is not None:
                self.trace.extend(picks)
        elif self.indexer is not None and self.trace is not None:
            self.trace.extend(np.zeros(0, np.int64) for _ in pos)
        ratio = self.compressor.ratio if self.compressor is not None else 0
        for b0 in range(0, len(pos), BLOCK):
            b1 = min(b0 + BLOCK, len(pos))
            lo = max(0, b0 - self.window + 1)
            keys = np.concatenate([ring, kv[lo:b1]])
            key_pos = np.concatenate([ring_pos, pos[lo:b1]])
            qp = pos[b0:b1, None]
            masks = [np.where((key_pos[None, :] <= qp) & (key_pos[None, :] > qp - self.window), 0.0, -np.inf)]
            scores = [np.einsum("qhd,kd->qhk", q[b0:b1], keys)]
            values = [keys]
            if picks is not None:
                chosen = picks[b0:b1]
                k = max(len(c) for c in chosen)
                index = np.zeros((b1 - b0, k), np.int64)
                valid = np.zeros((b1 - b0, k), bool)
                for i, c in enumerate(chosen):
                    index[i, :len(c)], valid[i, :len(c)] = c, True
                gathered = entries[index]                                   # (B, k, d)
                scores.append(np.einsum("qhd,qkd->qhk", q[b0:b1], gathered))
                masks.append(np.where(valid, 0.0, -np.inf))
                values.append(gathered)
            elif entries is not None and len(entries):
                visible = (pos[b1 - 1] + 1) // ratio
                scores.append(np.einsum("qhd,kd->qhk", q[b0:b1], entries[:visible]))
                masks.append(np.where(np.arange(visible)[None, :] < (qp + 1) // ratio, 0.0, -np.inf))
                values.append(entries[:visible])
            self._softmax_into(scores, masks, values, out[b0:b1])

    def _softmax_into(self, scores, masks, values, out) -> None:
        s = np.concatenate(scores, axis=-1) * self.scale
        s += np.concatenate(masks, axis=-1).astype(np.float32)[:, None, :]
        top = np.maximum(s.max(axis=-1), self.sinks[None, :])
        s -= top[:, :, None]
        np.exp(s, out=s)
        s /= (s.sum(axis=-1) + np.exp(self.sinks[None, :] - top))[:, :, None]
        split = 0
        out[...] = 0.0
        for v in values:
            width = v.shape[-2]
            p = s[:, :, split:split + width]
            out += np.einsum("qhk,kd->qhd", p, v) if v.ndim == 2 else np.einsum("qhk,qkd->qhd", p, v)
            split += width

    def _project(self, out: np.ndarray) -> np.ndarray:
        N, g = out.shape[0], self.cfg.o_groups
        grouped = out.reshape(N, g, -1).transpose(1, 0, 2)                   # (g, N, in_g)
        low = np.matmul(grouped, self.wo_a).transpose(1, 0, 2).reshape(N, -1)  # (N, g r)
        return lin(np.ascontiguousarray(low), self.wo_b)

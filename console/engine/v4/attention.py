"""DeepSeek-V4 attention: shared-KV MQA over a sliding window plus compressed entries.

Per token: ``c_Q = rms_norm(W_qa h)``; queries ``W_qb c_Q`` per head, each RMS-normalised without
weight; one shared head ``kv = rms_norm(W_kv h)`` serves as key and value; interleaved RoPE on the
last ``rope_dim`` channels of both (plain ``rope_theta`` on sliding-only layers, the YaRN
``compress`` rope on compressed layers). A query at ``p`` attends to keys at ``p - window < j <= p``
and, on compressed layers, to the compressed entries it may see (HCA: all closed windows; CSA: the
Lightning Indexer's top-k of them), with scale ``head_dim^-1/2`` and a learned per-head sink logit
in the softmax denominator. The output's rope channels are rotated back by ``p``; the output
projection is grouped: heads split into ``o_groups``, each group -> ``o_lora_rank`` by its block of
``wo_a``, then ``wo_b``.

Layout: every matrix that reads ``h`` is one fused matrix (``W_qa | W_kv | compressor kv, gate |
indexer compressor kv, gate``), and ``c_Q`` feeds one (``W_qb | indexer W_q``), so a decode step
streams each as one product. A sequence's one new token (decode) attends with a few matrix
products over its ring and entries, no masks; longer runs (prefill) go in blocks of queries, each
block's scores one matrix product per key set (window, entries, or the indexer's gathered picks)
with masks, sized so a block's scores stay within ``BLOCK_FLOATS``.
"""

from __future__ import annotations

import numpy as np

from ..ops import lin, rms_norm
from .cache import LayerState
from .compressor import Compressor, Indexer
from .config import V4Config
from .layout import apply, pack_wide
from .rope import PairRope

BLOCK = 256
BLOCK_FLOATS = 1 << 23     # floats a query block's scores may take (32 MiB)


class V4Attention:
    STREAMED = ("w_h", "w_q", "wo_a", "wo_b")       # decode order (see layout.gather)

    def __init__(self, cfg: V4Config, w: dict[str, np.ndarray], rope: PairRope,
                 compressor: Compressor | None, indexer: Indexer | None) -> None:
        self.cfg, self.rope, self.compressor, self.indexer = cfg, rope, compressor, indexer
        self.heads, self.dim, self.window, self.eps = cfg.num_attention_heads, cfg.head_dim, cfg.sliding_window, cfg.rms_norm_eps
        self.q_rank = cfg.q_lora_rank
        h_rows = [w["wq_a"], w["wkv"]] + [part.rows for part in (compressor, indexer and indexer.compressor) if part]
        self.w_h = pack_wide(np.concatenate(h_rows).T)                    # h -> [q_a | kv | comp | index comp]
        self.w_q = pack_wide(np.concatenate([w["wq_b"]] + ([indexer.rows] if indexer else [])).T)
        self.q_norm, self.kv_norm = w["q_norm"], w["kv_norm"]
        g, r = cfg.o_groups, cfg.o_lora_rank
        self.wo_a = np.ascontiguousarray(w["wo_a"].reshape(g, r, -1).transpose(0, 2, 1))   # (g, in_g, r)
        self.wo_b = pack_wide(w["wo_b"].T)
        self.sinks = w["sinks"].astype(np.float32)
        self.scale = np.float32(self.dim ** -0.5)
        d = self.dim
        self.cuts = np.cumsum([self.q_rank, d, 2 * (compressor.width if compressor else 0)]).tolist()
        self.trace: list | None = None          # when a list, CSA layers append their top-k picks

    def decode_arrays(self) -> list[np.ndarray]:
        arrays = [self.w_h, self.w_q, self.q_norm, self.kv_norm, self.wo_a, self.wo_b, self.sinks]
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
        N, (c_q, c_kv, c_comp) = h.shape[0], self.cuts
        a = apply(h, self.w_h)
        qr = rms_norm(a[:, :c_q], self.q_norm, self.eps)
        kv = rms_norm(a[:, c_q:c_kv], self.kv_norm, self.eps)
        b = apply(qr, self.w_q)
        hd = self.heads * self.dim
        q = b[:, :hd].reshape(N, self.heads, self.dim)
        norm = np.einsum("nhd,nhd->nh", q, q)                 # per-head RMS norm, times the score scale
        norm *= np.float32(1 / self.dim)
        norm += np.float32(self.eps)
        np.sqrt(norm, out=norm)
        norm *= np.float32(1 / self.scale)
        q /= norm[:, :, None]
        if N == 1:
            positions = None
            cis = self.rope.at(segments[0][2])
        else:
            positions = np.concatenate([np.arange(s, s + n) for _, n, s, _ in segments])
            cis = self.rope.tables(positions)
        self.rope.rotate(q, cis)
        self.rope.rotate(kv, cis)
        iq = iw = None
        if self.indexer is not None:
            ix = self.indexer
            iq = b[:, hd:].reshape(N, ix.heads, ix.dim)
            ix.rope.rotate(iq, ix.rope.tables(positions) if N > 1 else ix.rope.at(segments[0][2]))
            iw = ix.head_weights(h)
        out = np.empty((N, self.heads, self.dim), np.float32)
        for r0, n, start, state in segments:
            rows = slice(r0, r0 + n)
            if self.compressor is not None:
                self.compressor.update(state.compressor, a[rows, c_kv:c_comp], start)
            if self.indexer is not None:
                self.indexer.compressor.update(state.indexer, a[rows, c_comp:], start)
            if n == 1:                     # the ring's oldest slot is outside the new token's window
                state.write_one(kv[r0], start)
                self._attend_one(q[r0], state, start, iq, iw, r0, out[r0])
            else:
                self._attend(q[rows], kv[rows], positions[rows], state, iq, iw, r0, out[rows])
                state.write_window(kv[rows], positions[rows])
        self.rope.rotate(out, cis, inverse=True)
        return self._project(out)

    # ----- one new token ---------------------------------------------------------------------
    def _attend_one(self, q, state: LayerState, p: int, iq, iw, row: int, out) -> None:
        """q (heads, dim) of the token at ``p``, already in the ring; its entries all closed."""
        ring = state.window_keys(p)
        entries = None
        if self.compressor is not None and state.compressor.count:
            entries = state.compressor.view()
            if self.indexer is not None:
                n = len(entries)
                if n > self.indexer.topk:
                    index, _ = self.indexer.pick(iq[row:row + 1], iw[row:row + 1], state.indexer.view(), np.array([n]))
                    index = np.sort(index[0])
                    entries = entries[index]
                else:
                    index = np.arange(n)
                if self.trace is not None:
                    self.trace.append(index)
        elif self.indexer is not None and self.trace is not None:
            self.trace.append(np.zeros(0, np.int64))
        nw = len(ring)
        s = np.empty((self.heads, nw + (0 if entries is None else len(entries))), np.float32)
        np.matmul(q, ring.T, out=s[:, :nw])
        if entries is not None:
            np.matmul(q, entries.T, out=s[:, nw:])
        top = np.maximum(s.max(axis=1), self.sinks)
        s -= top[:, None]
        np.exp(s, out=s)
        denom = s.sum(axis=1)
        denom += np.exp(self.sinks - top)
        np.matmul(s[:, :nw], ring, out=out)
        if entries is not None:
            out += s[:, nw:] @ entries
        out /= denom[:, None]

    # ----- many tokens of one sequence -------------------------------------------------------
    def _attend(self, q, kv, pos, state: LayerState, iq, iw, r0: int, out) -> None:
        """Queries q (T, heads, dim) at consecutive positions ``pos`` with their keys ``kv``; the
        ring (not yet holding them) gives the keys before the run. Blocks of at most ``BLOCK``
        queries, fewer when a block's scores, gathered entries and index scores would pass
        ``BLOCK_FLOATS``."""
        T, w = len(pos), self.window
        old = state.ring_pos >= 0
        ring, ring_pos = state.ring[old], state.ring_pos[old]
        entries = state.compressor.view() if self.compressor is not None else None
        ratio = self.compressor.ratio if self.compressor is not None else 0
        n_entries = 0 if entries is None else len(entries)
        per_query = self.heads * (len(ring) + w + BLOCK + n_entries)
        if self.indexer is not None:
            per_query += self.indexer.heads * n_entries + self.indexer.topk * self.dim
        block = int(max(16, min(BLOCK, BLOCK_FLOATS // per_query)))
        for b0 in range(0, T, block):
            b1 = min(b0 + block, T)
            lo = max(0, b0 - w + 1)
            keys = np.concatenate([ring, kv[lo:b1]])
            key_pos = np.concatenate([ring_pos, pos[lo:b1]])
            qp = pos[b0:b1, None]
            parts = [(keys, (key_pos[None, :] <= qp) & (key_pos[None, :] > qp - w))]
            if n_entries:
                visible = (pos[b0:b1] + 1) // ratio
                seen = int(visible[-1])
                if self.indexer is not None:
                    parts += self._picked(entries, state, iq[r0 + b0:r0 + b1], iw[r0 + b0:r0 + b1], visible, seen)
                elif seen:
                    parts.append((entries[:seen], np.arange(seen)[None, :] < visible[:, None]))
            elif self.indexer is not None and self.trace is not None:
                self.trace.extend(np.zeros(0, np.int64) for _ in range(b1 - b0))
            self._softmax_into(q[b0:b1], parts, out[b0:b1])

    def _picked(self, entries, state: LayerState, iq, iw, visible, seen: int) -> list:
        """The indexer's choice for a block of queries, as (keys, mask) parts for the softmax:
        all visible entries (with a causal mask) when there are at most ``topk``, else the
        gathered top-k per query (B, k, dim) with its validity mask."""
        if not seen:
            if self.trace is not None:
                self.trace.extend(np.zeros(0, np.int64) for _ in visible)
            return []
        index, valid = self.indexer.pick(iq, iw, state.indexer.view()[:seen], visible)
        if self.trace is not None:
            self.trace.extend(np.sort(i[v]) for i, v in zip(index, valid))
        if seen <= self.indexer.topk:
            return [(entries[:seen], valid)]
        return [(entries[index], valid)]

    def _softmax_into(self, q, parts, out) -> None:
        """Softmax with the sink over every part's keys; ``parts`` = (keys, mask (B, K)), keys
        (K, dim) shared by the block or (B, K, dim) per query (= values)."""
        B, h, d = q.shape
        scores = []
        for keys, mask in parts:
            if keys.ndim == 2:
                s = np.matmul(q.reshape(B * h, d), keys.T).reshape(B, h, -1)
            else:
                s = np.matmul(q, keys.transpose(0, 2, 1))
            s += np.where(mask, np.float32(0.0), np.float32(-np.inf))[:, None, :]
            scores.append(s)
        top = np.maximum(np.max([s.max(axis=-1) for s in scores], axis=0), self.sinks[None, :])
        denom = np.exp(self.sinks[None, :] - top)
        out[...] = 0.0
        for s, (keys, _) in zip(scores, parts):
            s -= top[:, :, None]
            np.exp(s, out=s)
            denom += s.sum(axis=-1)
            if keys.ndim == 2:
                out += np.matmul(s.reshape(B * h, -1), keys).reshape(B, h, d)
            else:
                out += np.matmul(s, keys)
        out /= denom[:, :, None]

    def _project(self, out: np.ndarray) -> np.ndarray:
        N, g = out.shape[0], self.cfg.o_groups
        if N == 1:
            return apply(np.matmul(out.reshape(g, 1, -1), self.wo_a).reshape(1, -1), self.wo_b)
        grouped = out.reshape(N, g, -1).transpose(1, 0, 2)                   # (g, N, in_g)
        low = np.matmul(grouped, self.wo_a).transpose(1, 0, 2).reshape(N, -1)  # (N, g r)
        return lin(np.ascontiguousarray(low), self.wo_b)

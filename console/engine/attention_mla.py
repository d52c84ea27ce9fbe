"""Multi-head Latent Attention (DeepSeek V2/V3): expanded prefill and absorbed latent decode.

Prefill follows HF: K/V are expanded per head from the latent through ``kv_b_proj``. Decode uses
the latent cache only (per token and layer: ``kv_lora_rank`` normalised latent + ``qk_rope_head_dim``
rotated key = one row of the cache) with the up-projections absorbed:
``score = (W_UK^T q_nope) . c + q_pe . k_pe`` and ``out = W_o (W_UV (sum_j p_j c_j))``.
``W_UK^T`` can be folded into the query projection and ``W_UV`` into ``o_proj``; each fold is
used when it does not increase the bytes read per token by more than ``FOLD_SLACK`` floats
(``fold="auto"``): big models are bandwidth-bound, tiny ones bound by the number of numpy
calls. The softmax scale is folded into the query weights of both paths.
"""

from __future__ import annotations

import numpy as np

from .cache import latent_batch
from .checkpoint import Checkpoint
from .config import ModelConfig
from .ops import causal_mask, lin, padding_mask, rms_norm, rms_scale, softmax_inplace, transposed
from .rope import Rope
from .tensors import attention_specs

QUERY_BLOCK = 256  # prefill query rows per score block: bounds memory at heads*256*T floats
LATENT_NORM_EPS = 1e-6
# "auto" folds when the folded matrix is at most this many floats larger than the pair it
# replaces: a fold saves ~4 numpy calls per layer and step, worth ~100-250 KB of weight reads.
FOLD_SLACK = 65536  # HF's q_a_layernorm / kv_a_layernorm use the class default, not the config


def interleave_perm(d: int) -> np.ndarray:
    """Rows [0, 2, 4, ..., 1, 3, 5, ...]: maps the interleaved rope layout onto rotate-half."""
    return np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])


class MLAAttention:
    def __init__(self, cfg: ModelConfig, ckpt: Checkpoint, layer: int, rope: Rope, fold: str = "auto") -> None:
        specs = attention_specs(cfg, layer)
        get = lambda key: ckpt.float32(*specs[key])  # noqa: E731
        H, nh = cfg.hidden_size, cfg.num_attention_heads
        dn, dr, dv, dc = cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.v_head_dim, cfg.kv_lora_rank
        self.layer, self.rope, self.nh, self.dn, self.dr, self.dv, self.dc = layer, rope, nh, dn, dr, dv, dc
        self.lora = cfg.q_lora_rank is not None
        self._half_turn = np.concatenate([np.arange(dr // 2, dr), np.arange(dr // 2)])  # rope's rotate-half
        perm = interleave_perm(dr) if cfg.rope_interleave else np.arange(dr)
        kv_a = get("kv_a")
        kv_a = np.concatenate([kv_a[:dc], kv_a[dc:][perm]])
        self.kv_norm = get("kv_a_norm")
        wq_raw = get("q_b") if self.lora else get("q")
        src = wq_raw.shape[1]
        wq = wq_raw.reshape(nh, dn + dr, src)
        wq = np.concatenate([wq[:, :dn], wq[:, dn:][:, perm]], axis=1) * np.float32(cfg.attention_scale)
        kv_b = get("kv_b")
        w_uk = kv_b.reshape(nh, dn + dv, dc)[:, :dn]
        w_uv = kv_b.reshape(nh, dn + dv, dc)[:, dn:]
        w_o = get("o")
        # --- prefill (expanded) ---
        if self.lora:
            self.q_norm = get("q_a_norm")
            self.w_in = transposed(np.concatenate([get("q_a"), kv_a]))
            self.w_qb = transposed(wq.reshape(nh * (dn + dr), src))
            self.q_width = cfg.q_lora_rank
        else:
            self.w_in = transposed(np.concatenate([wq.reshape(nh * (dn + dr), src), kv_a]))
            self.q_width = nh * (dn + dr)
        self.w_kvb = transposed(kv_b)
        self.w_o = transposed(w_o)
        # --- decode (absorbed) ---
        split_q, folded_q = nh * (dn + dr) * src + nh * dn * dc, nh * (dc + dr) * src
        split_o, folded_o = nh * dv * dc + H * nh * dv, H * nh * dc
        self.fold_q = fold == "always" or (fold == "auto" and folded_q <= split_q + FOLD_SLACK)
        self.fold_o = fold == "always" or (fold == "auto" and folded_o <= split_o + FOLD_SLACK)
        self.w_in_dec, self.w_q_dec, self.w_uk = self.w_in, None, None
        if self.fold_q:
            absorbed = np.matmul(w_uk.transpose(0, 2, 1).astype(np.float64), wq[:, :dn].astype(np.float64))
            w_q_abs = np.concatenate([absorbed.astype(np.float32), wq[:, dn:]], axis=1).reshape(nh * (dc + dr), src)
            if self.lora:
                self.w_q_dec = transposed(w_q_abs)
            else:
                self.w_in_dec = transposed(np.concatenate([w_q_abs, kv_a]))
        else:
            self.w_uk = np.ascontiguousarray(w_uk)
            self.w_q_dec = self.w_qb if self.lora else None
        if self.fold_o:
            w_o3 = w_o.reshape(H, nh, dv).transpose(1, 0, 2).astype(np.float64)
            self.w_o_abs = transposed(np.matmul(w_o3, w_uv.astype(np.float64)).transpose(1, 0, 2).reshape(H, nh * dc))
            self.w_uv_t = None
        else:
            self.w_o_abs = None
            self.w_uv_t = np.ascontiguousarray(w_uv.transpose(0, 2, 1))

    def decode_one(self, h: np.ndarray, cos: np.ndarray, sin: np.ndarray, cache) -> np.ndarray:
        """:meth:`decode` for one sequence (batch-1 decode): h (1, H) -> (1, H).

        The same arithmetic with about half the numpy calls: no per-sequence loop, the query
        rotated in place, and the cache row written where it lives (``cos``/``sin``: the
        position's rope rows (dr,)). Requires ``cache.reserve(cache.length + 1)`` first."""
        nh, dn, dr, dc = self.nh, self.dn, self.dr, self.dc
        a = lin(h, self.w_in_dec)[0]
        if self.lora:
            qa = a[:self.q_width]
            qa = qa * (self.q_norm * rms_scale(qa, LATENT_NORM_EPS))
            qsrc = lin(qa[None], self.w_q_dec)[0]
            k_off = self.q_width
        else:
            k_off = nh * (dc + dr) if self.fold_q else self.q_width
            qsrc = a[:k_off]
        if self.fold_q:
            q = qsrc.reshape(nh, dc + dr)
        else:
            qf = qsrc.reshape(nh, dn + dr)
            q = np.empty((nh, dc + dr), np.float32)
            np.matmul(qf[:, None, :dn], self.w_uk, out=q[:, None, :dc])
            q[:, dc:] = qf[:, dn:]
        q_pe = q[:, dc:]
        turned = q_pe[:, self._half_turn] * sin
        q_pe *= cos
        q_pe += turned
        row = cache.data[self.layer, cache.length]
        c = a[k_off:k_off + dc]
        np.multiply(c, self.kv_norm * rms_scale(c, LATENT_NORM_EPS), out=row[:dc])
        k_pe = a[k_off + dc:]
        np.multiply(k_pe, cos, out=row[dc:])
        row[dc:] += k_pe[self._half_turn] * sin
        kv = cache.data[self.layer, :cache.length + 1]
        scores = softmax_inplace(np.matmul(q, kv.T))
        latent = np.matmul(scores, kv[:, :dc])                     # (nh, dc)
        if self.fold_o:
            return lin(latent.reshape(1, nh * dc), self.w_o_abs)
        o = np.matmul(latent[:, None, :], self.w_uv_t)             # (nh, 1, dv)
        return lin(o.reshape(1, nh * self.dv), self.w_o)

    def decode_arrays(self) -> list[np.ndarray]:
        """The weight arrays one decode step reads (for byte accounting)."""
        arrays = [self.w_in_dec, self.kv_norm]
        if self.lora:
            arrays += [self.q_norm, self.w_q_dec]
        if not self.fold_q:
            arrays.append(self.w_uk)
        arrays += [self.w_o_abs] if self.fold_o else [self.w_uv_t, self.w_o]
        return arrays

    def _latent_rows(self, a: np.ndarray, tables: tuple, k_off: int) -> np.ndarray:
        """Cache rows [normalised latent | rotated k_pe] for every token, (N, dc + dr)."""
        rows = np.empty((a.shape[0], self.dc + self.dr), np.float32)
        rows[:, :self.dc] = rms_norm(a[:, k_off:k_off + self.dc], self.kv_norm, LATENT_NORM_EPS)
        rows[:, self.dc:] = self.rope.apply(a[:, k_off + self.dc:], tables)
        return rows

    def prefill(self, h: np.ndarray, tables: tuple, segments: list[tuple[int, int]],
                caches: list | None) -> np.ndarray:
        """Causal attention over each segment (start row, length) of ``h`` (N, H); fills caches.

        A segment whose cache already holds ``o = cache.length`` tokens continues after them:
        its rows are written at ``o`` and its queries also attend to the cached prefix, whose
        keys and values are expanded from the stored latents (what a whole prefill computes)."""
        nh, dn, dr, dv, dc = self.nh, self.dn, self.dr, self.dv, self.dc
        N = h.shape[0]
        a = lin(h, self.w_in)
        if self.lora:
            q = lin(rms_norm(a[:, :self.q_width], self.q_norm, LATENT_NORM_EPS), self.w_qb)
        else:
            q = a[:, :self.q_width]
        q = np.ascontiguousarray(q).reshape(N, nh, dn + dr)
        rows = self._latent_rows(a, tables, self.q_width)
        q_pe = self.rope.apply(q[:, :, dn:], tables)
        kv = lin(rows[:, :dc], self.w_kvb).reshape(N, nh, dn + dv)
        out = np.empty((N, nh, dv), np.float32)
        for seg, (s, T) in enumerate(segments):
            o = 0 if caches is None else caches[seg].length
            seg_rows, seg_kv = rows[s:s + T], kv[s:s + T]
            if caches is not None:
                caches[seg].write(self.layer, o, seg_rows)
            if o:                                   # continue after the cached prefix
                seg_rows = caches[seg].data[self.layer, :o + T]
                prefix_kv = lin(seg_rows[:o, :dc], self.w_kvb).reshape(o, nh, dn + dv)
                seg_kv = np.concatenate([prefix_kv, seg_kv])
            qn = q[s:s + T, :, :dn].transpose(1, 0, 2)
            qp = q_pe[s:s + T].transpose(1, 0, 2)
            kn = seg_kv[:, :, :dn].transpose(1, 2, 0)
            kp = seg_rows[:, dc:].T
            v = seg_kv[:, :, dn:].transpose(1, 0, 2)
            for b0 in range(0, T, QUERY_BLOCK):
                b1 = min(T, b0 + QUERY_BLOCK)
                scores = np.matmul(qn[:, b0:b1], kn[:, :, :o + b1])
                scores += np.matmul(qp[:, b0:b1], kp[:, :o + b1])
                scores += causal_mask(o + b0, b1 - b0, o + b1)
                softmax_inplace(scores)
                out[s + b0:s + b1] = np.matmul(scores, v[:, :o + b1]).transpose(1, 0, 2)
        return lin(out.reshape(N, nh * dv), self.w_o)

    def decode(self, h: np.ndarray, tables: tuple, positions: np.ndarray, caches: list) -> np.ndarray:
        """One new token per sequence (h row b belongs to caches[b] at positions[b]).

        No loop over sequences: the batch's latent caches are slots of one zero-padded array
        (``cache.latent_batch``), so the absorbed attention of every sequence is one batched
        matmul for the scores and one for the latent, with the keys past each sequence's end
        masked out (their weights are exactly 0, so each row equals its sequence decoded alone
        up to float32 rounding)."""
        nh, dn, dr, dc = self.nh, self.dn, self.dr, self.dc
        B = h.shape[0]
        a = lin(h, self.w_in_dec)
        if self.fold_q:
            if self.lora:
                q = lin(rms_norm(a[:, :self.q_width], self.q_norm, LATENT_NORM_EPS), self.w_q_dec)
                k_off = self.q_width
            else:
                q, k_off = a[:, :nh * (dc + dr)], nh * (dc + dr)
            q = np.ascontiguousarray(q).reshape(B, nh, dc + dr)
        else:
            if self.lora:
                qf = lin(rms_norm(a[:, :self.q_width], self.q_norm, LATENT_NORM_EPS), self.w_q_dec)
            else:
                qf = a[:, :self.q_width]
            k_off = self.q_width
            qf = np.ascontiguousarray(qf).reshape(B, nh, dn + dr)
            q = np.empty((B, nh, dc + dr), np.float32)
            q[:, :, :dc] = np.matmul(qf[:, :, :dn].transpose(1, 0, 2), self.w_uk).transpose(1, 0, 2)
            q[:, :, dc:] = qf[:, :, dn:]
        q[:, :, dc:] = self.rope.apply(q[:, :, dc:], tables)
        rows = self._latent_rows(a, tables, k_off)
        kv = latent_batch(caches)[:, self.layer]                   # (B, capacity, dc + dr)
        kv[np.arange(B), positions] = rows
        T = int(positions.max()) + 1                               # keys of the longest sequence
        scores = np.matmul(q, kv[:, :T].transpose(0, 2, 1))        # (B, nh, T), one batched matmul
        scores += padding_mask(positions, T)                       # -inf past each sequence's end
        softmax_inplace(scores)
        latent = np.matmul(scores, kv[:, :T, :dc])                 # (B, nh, dc)
        if self.fold_o:
            return lin(latent.reshape(B, nh * dc), self.w_o_abs)
        o = np.matmul(latent.transpose(1, 0, 2), self.w_uv_t).transpose(1, 0, 2).reshape(B, nh * self.dv)
        return lin(o, self.w_o)

"""Grouped-query attention (Mixtral): rotate-half rope, optional sliding window, K/V cache.

The K/V cache holds, per token and layer, ``num_key_value_heads`` keys and values; query head
``h`` reads key/value head ``h // (heads / kv_heads)`` (HF ``repeat_kv``). The softmax scale is
folded into the query rows of the fused QKV matrix.
"""

from __future__ import annotations

import numpy as np

from .checkpoint import Checkpoint
from .config import ModelConfig
from .ops import causal_mask, lin, softmax_inplace, transposed
from .rope import Rope
from .tensors import attention_specs

QUERY_BLOCK = 256


class GQAAttention:
    def __init__(self, cfg: ModelConfig, ckpt: Checkpoint, layer: int, rope: Rope, fold: str = "auto") -> None:
        specs = attention_specs(cfg, layer)
        get = lambda key: ckpt.float32(*specs[key])  # noqa: E731
        self.layer, self.rope = layer, rope
        self.nh, self.nkv, self.hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.group = self.nh // self.nkv
        self.window = cfg.sliding_window
        self.w_qkv = transposed(np.concatenate([get("q") * np.float32(cfg.attention_scale), get("k"), get("v")]))
        self.w_o = transposed(get("o"))

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.w_qkv, self.w_o]

    def _qkv(self, h: np.ndarray, tables: tuple):
        N, nh, nkv, hd = h.shape[0], self.nh, self.nkv, self.hd
        qkv = np.ascontiguousarray(lin(h, self.w_qkv))
        q = self.rope.apply(qkv[:, :nh * hd].reshape(N, nh, hd), tables)
        k = self.rope.apply(qkv[:, nh * hd:(nh + nkv) * hd].reshape(N, nkv, hd), tables)
        v = qkv[:, (nh + nkv) * hd:].reshape(N, nkv, hd)
        return q, k, v

    def prefill(self, h: np.ndarray, tables: tuple, segments: list[tuple[int, int]],
                caches: list | None) -> np.ndarray:
        """Causal attention over each segment (start row, length) of ``h``; fills caches. A
        segment whose cache holds ``o = cache.length`` tokens continues after them (its
        queries also attend to the cached keys and values)."""
        N, nkv, g, hd = h.shape[0], self.nkv, self.group, self.hd
        q, k, v = self._qkv(h, tables)
        out = np.empty((N, self.nh, hd), np.float32)
        for seg, (s, T) in enumerate(segments):
            o = 0 if caches is None else caches[seg].length
            if caches is not None:
                caches[seg].write(self.layer, o, k[s:s + T], v[s:s + T])
            qs = q[s:s + T].reshape(T, nkv, g, hd).transpose(1, 2, 0, 3)     # (kv, g, T, hd)
            if o:                                                             # cached prefix + segment
                held = caches[seg].data[self.layer, :, :, :o + T]             # (2, kv, o+T, hd)
                ks, vs = held[0].transpose(0, 2, 1)[:, None], held[1][:, None]
            else:
                ks = k[s:s + T].transpose(1, 2, 0)[:, None]                   # (kv, 1, hd, T)
                vs = v[s:s + T].transpose(1, 0, 2)[:, None]                   # (kv, 1, T, hd)
            for b0 in range(0, T, QUERY_BLOCK):
                b1 = min(T, b0 + QUERY_BLOCK)
                scores = np.matmul(qs[:, :, b0:b1], ks[..., :o + b1])
                scores += causal_mask(o + b0, b1 - b0, o + b1, self.window)
                softmax_inplace(scores)
                o_blk = np.matmul(scores, vs[:, :, :o + b1])                 # (kv, g, q, hd)
                out[s + b0:s + b1] = o_blk.transpose(2, 0, 1, 3).reshape(b1 - b0, self.nh, hd)
        return lin(out.reshape(N, self.nh * hd), self.w_o)

    def decode(self, h: np.ndarray, tables: tuple, positions: np.ndarray, caches: list) -> np.ndarray:
        B, nkv, g, hd = h.shape[0], self.nkv, self.group, self.hd
        q, k, v = self._qkv(h, tables)
        out = np.empty((B, nkv, g, hd), np.float32)
        for b in range(B):
            t = positions[b] + 1
            lo = 0 if self.window is None else max(0, t - self.window)
            kv = caches[b].append(self.layer, k[b], v[b])
            scores = np.matmul(q[b].reshape(nkv, g, hd), kv[0, :, lo:t].transpose(0, 2, 1))
            softmax_inplace(scores)
            np.matmul(scores, kv[1, :, lo:t], out=out[b])
        return lin(out.reshape(B, self.nh * hd), self.w_o)

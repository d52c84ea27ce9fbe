"""Attention terms of the decode/prefill model: parameters, KV cache, bytes and FLOPs.

Two kinds, chosen by the model profile's ``[attention] kind``:

* :class:`MLAttention` (DeepSeek-V3): the latent cache holds ``kv_lora_rank +
  qk_rope_head_dim`` numbers per token per layer. Decode runs the absorbed form
  (FlashMLA [S26]): per layer and token ``2 * heads * L * (576 + 512)`` FLOPs and
  the whole cache read once. Prefill runs the non-absorbed form:
  ``2 * heads * L * (qk_head_dim + v_head_dim)`` FLOPs per prompt token.

* :class:`CompressedAttention` (DeepSeek-V4 CSA/HCA hybrid). APPROXIMATION, no
  kernel-level model: every layer keeps a 128-token sliding window of full KV
  entries; a CSA layer (compress ratio 4) also keeps one compressed entry per 4
  tokens plus a lightning-indexer key, scores all of them with the indexer and
  attends to the ``index_topk`` best; an HCA layer (ratio 128) keeps one entry per
  128 tokens and attends to all of them. The cache is FP8 (576 B per entry, the
  checkpoint's layout) or BF16 (1,024 B), by ``kv_cache_dtype``. K = V share one 512-wide head, so a
  score plus its value costs ``2 * heads * (512 + 512)`` FLOPs. Entries are FP8
  with BF16 rope dims (576 B); indexer keys FP4 (68 B). At 1M context this gives
  10% of V3.2's KV and 27% of its per-token FLOPs for V4-Pro, the model card's figures.

Both count attention FLOPs of a prompt token at the full prompt length (no causal
halving), the convention the prefill MFU was fitted with. ``context`` may be a
float or a numpy array (vectorised over a batch sweep).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from console.perf.datafiles import PerfDataError, require
from console.perf.dtypes import nbytes


@dataclass(frozen=True)
class MLAttention:
    """Multi-head latent attention (DeepSeek-V2/V3)."""

    num_layers: int
    hidden_size: int
    num_heads: int
    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    kv_cache_dtype: str = "bf16"

    kind = "mla"

    def params(self) -> int:
        d, h = self.hidden_size, self.num_heads
        qk = self.qk_nope_head_dim + self.qk_rope_head_dim
        if self.q_lora_rank:
            q = d * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * h * qk
        else:
            q = d * h * qk
        kv_a = d * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
        kv_b = self.kv_lora_rank * h * (self.qk_nope_head_dim + self.v_head_dim)
        out = h * self.v_head_dim * d
        return self.num_layers * (q + kv_a + kv_b + out)

    @property
    def entry_bytes(self) -> float:
        """Cache bytes per token per layer (576 x 2 for V3)."""
        return (self.kv_lora_rank + self.qk_rope_head_dim) * nbytes(self.kv_cache_dtype)

    def kv_bytes_per_sequence(self, context: Any) -> Any:
        return np.asarray(context, dtype=np.float64) * self.num_layers * self.entry_bytes

    def decode_bytes_per_token(self, context: Any) -> Any:
        return self.kv_bytes_per_sequence(context)

    def decode_flops_per_token(self, context: Any) -> Any:
        width = self.kv_lora_rank + self.qk_rope_head_dim + self.kv_lora_rank
        return self.num_layers * 2.0 * self.num_heads * np.asarray(context, np.float64) * width

    def prefill_flops_per_token(self, prompt: Any) -> Any:
        width = self.qk_nope_head_dim + self.qk_rope_head_dim + self.v_head_dim
        return self.num_layers * 2.0 * self.num_heads * np.asarray(prompt, np.float64) * width

    def describe(self) -> str:
        return (f"MLA, latent cache {self.kv_lora_rank}+{self.qk_rope_head_dim} "
                f"({self.kv_cache_dtype}) per token per layer; absorbed decode")


@dataclass(frozen=True)
class CompressedAttention:
    """DeepSeek-V4 hybrid compressed attention (see the module doc for the approximation)."""

    num_layers: int
    hidden_size: int
    num_heads: int
    head_dim: int
    qk_rope_head_dim: int
    q_lora_rank: int
    o_lora_rank: int
    o_groups: int
    window: int
    index_heads: int
    index_head_dim: int
    index_topk: int
    compress_ratios: tuple[int, ...]
    kv_entry_bytes: float
    index_key_bytes: float
    kv_cache_dtype: str = "fp8"

    kind = "compressed"

    @property
    def entry_bytes(self) -> float:
        """Bytes of one KV entry: the checkpoint's FP8-with-BF16-rope layout
        (``kv_entry_bytes``, 576 B), or every one of the ``head_dim`` numbers
        at ``kv_cache_dtype`` when that is not FP8 (BF16: 1,024 B)."""
        if self.kv_cache_dtype == "fp8":
            return self.kv_entry_bytes
        return self.head_dim * nbytes(self.kv_cache_dtype)

    def _count(self, ratio: int) -> int:
        return sum(1 for r in self.compress_ratios if r == ratio)

    @property
    def csa_layers(self) -> int:
        return self._count(4)

    @property
    def hca_layers(self) -> int:
        return self._count(128)

    @property
    def window_layers(self) -> int:
        return self._count(0)

    def params(self) -> int:
        d, h, hd = self.hidden_size, self.num_heads, self.head_dim
        core = (d * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * h * hd
                + d * hd + hd + h * hd * self.o_lora_rank + self.o_groups * self.o_lora_rank * d + h)
        total = 0
        for ratio in self.compress_ratios:
            total += core
            if ratio:
                coff = 2 if ratio == 4 else 1
                total += 2 * d * coff * hd + ratio * coff * hd + hd
            if ratio == 4:
                ihd = self.index_head_dim
                total += self.q_lora_rank * self.index_heads * ihd + d * self.index_heads
                total += 2 * d * 2 * ihd + 4 * 2 * ihd + ihd
        return total

    def _window(self, context: Any) -> Any:
        return np.minimum(np.asarray(context, np.float64), self.window)

    def kv_bytes_per_sequence(self, context: Any) -> Any:
        ctx = np.asarray(context, np.float64)
        per_token = (self.csa_layers * (self.entry_bytes + self.index_key_bytes) / 4
                     + self.hca_layers * self.entry_bytes / 128)
        return self.num_layers * self._window(ctx) * self.entry_bytes + ctx * per_token

    def _selected(self, context: Any) -> tuple[Any, Any]:
        ctx = np.asarray(context, np.float64)
        return np.minimum(ctx / 4, self.index_topk), ctx / 128

    def decode_bytes_per_token(self, context: Any) -> Any:
        ctx = np.asarray(context, np.float64)
        csa_sel, hca_sel = self._selected(ctx)
        window = self.num_layers * self._window(ctx) * self.entry_bytes
        csa = self.csa_layers * (ctx / 4 * self.index_key_bytes + csa_sel * self.entry_bytes)
        hca = self.hca_layers * hca_sel * self.entry_bytes
        return window + csa + hca

    def decode_flops_per_token(self, context: Any) -> Any:
        ctx = np.asarray(context, np.float64)
        csa_sel, hca_sel = self._selected(ctx)
        per_entry = 2.0 * self.num_heads * 2 * self.head_dim
        entries = (self.num_layers * self._window(ctx) + self.csa_layers * csa_sel
                   + self.hca_layers * hca_sel)
        indexer = self.csa_layers * 2.0 * self.index_heads * self.index_head_dim * ctx / 4
        return per_entry * entries + indexer

    def prefill_flops_per_token(self, prompt: Any) -> Any:
        return self.decode_flops_per_token(prompt)

    def describe(self) -> str:
        return (f"CSA/HCA hybrid, KV {self.entry_bytes:g} B/entry ({self.kv_cache_dtype}) ({self.csa_layers} CSA ratio-4 layers with top-{self.index_topk} "
                f"indexer, {self.hca_layers} HCA ratio-128 layers, {self.window_layers} window-only; "
                f"{self.window}-token window), approximate")


def attention_from_table(entry: dict[str, Any], num_layers: int, hidden: int, where: str):
    """Build the attention term named by ``entry["kind"]`` from a profile's ``[attention]``."""
    kind = require(entry, "kind", where)
    get = lambda key: require(entry, key, where)  # noqa: E731
    if kind == "mla":
        return MLAttention(num_layers, hidden, get("num_heads"), get("q_lora_rank"),
                           get("kv_lora_rank"), get("qk_nope_head_dim"), get("qk_rope_head_dim"),
                           get("v_head_dim"), entry.get("kv_cache_dtype", "bf16"))
    if kind == "compressed":
        ratios = tuple(int(r) for r in get("compress_ratios"))
        if len(ratios) != num_layers or set(ratios) - {0, 4, 128}:
            raise PerfDataError(f"{where}: compress_ratios must list {num_layers} values of 0, 4, 128")
        return CompressedAttention(num_layers, hidden, get("num_heads"), get("head_dim"),
                                   get("qk_rope_head_dim"), get("q_lora_rank"), get("o_lora_rank"),
                                   get("o_groups"), get("window"), get("index_heads"),
                                   get("index_head_dim"), get("index_topk"), ratios,
                                   float(get("kv_entry_bytes")), float(get("index_key_bytes")))
    raise PerfDataError(f"{where}: unknown attention kind {kind!r} (known: mla, compressed)")

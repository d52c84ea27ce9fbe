"""``DeepseekV4ForCausalLM`` in numpy: the same public surface as the V3 :class:`~console.engine.model.Model`.

Forward: embedding -> ``hc_mult`` copies (the mHC residual streams) -> per layer
[hyper-connection -> RMSNorm -> attention (window + compressed) -> hyper-connection -> RMSNorm ->
MoE] -> the head's stream collapse -> RMSNorm -> lm_head. Layers are prepared on first use
(float32, dequantised from FP8/FP4 when stored so; the checkpoint stays memory-mapped).

Contract (CONTRACTS.md section 1): ``prefill(sequences, caches)`` continues each sequence at its
cache's ``length`` (chunked prefill gives the same logits as one pass); without caches every
sequence starts at 0 (stateless: a temporary cache is used and dropped). ``decode(caches, ids)``
runs one token for each cache. The MTP block in the checkpoint is skipped (no speculative
decoding). Routing is reported for every layer (all V4 layers are MoE); ``hash_moe_layers`` says
which of them route by token id.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..checkpoint import Checkpoint
from ..model import _UNSET, Model, Routing
from ..ops import rms_norm
from ..safetensors import to_float32
from .cache import V4Cache
from .config import V4Config
from .hyper import HyperHead
from .layout import apply, pack_wide
from .names import Names
from .rope import PairRope
from .weights import V4Layer, check_v4_checkpoint, top_specs


class V4Model(Model):
    """A loaded DeepSeek-V4 checkpoint."""

    def __init__(self, path: Path, config: V4Config, ckpt: Checkpoint) -> None:   # noqa: super not called
        self.path, self.name, self.config = Path(path), Path(path).name, config
        self.moe_layers = config.moe_layers
        self.hash_moe_layers = tuple(i for i, h in enumerate(config.hash_layers) if h)
        self._ckpt, self.names = ckpt, Names(ckpt)
        check_v4_checkpoint(config, ckpt, self.names)
        compress = PairRope(config.compress_rope, config.rope_dim)
        self.ropes = {"main": PairRope(config.main_rope, config.rope_dim), "compress": compress, "index": compress}
        self._layers: list[V4Layer | None] = [None] * config.num_hidden_layers
        self._lock = threading.Lock()
        top = top_specs(config)
        self._embed_name = self.names(top["embed"][0])
        self._embed_quantised = ckpt.dtype(self._embed_name) not in ("F32", "BF16", "F16")
        self._embed = ckpt.float32(self._embed_name) if self._embed_quantised else ckpt.raw(self._embed_name)
        self._embed_dtype = "F32" if self._embed_quantised else ckpt.dtype(self._embed_name)
        self._final_norm = ckpt.float32(self.names(top["norm"][0]))
        self._hc_head = HyperHead(*(ckpt.float32(self.names(top[k][0])) for k in ("hc_fn", "hc_base", "hc_scale")),
                                  hc_eps=config.hc_eps, norm_eps=config.rms_norm_eps)
        self._lm_head: np.ndarray | None = None
        self._tokenizer = _UNSET       # Model.tokenizer loads the folder's tokenizer on first use

    # ----- weights -------------------------------------------------------------------------
    def _build_layer(self, i: int) -> V4Layer:
        return V4Layer(self.config, self._ckpt, self.names, i, self.ropes)

    def _load_head(self) -> np.ndarray:
        name = self._embed_name if self.config.tie_word_embeddings else self.names("head.weight")
        return pack_wide(self._ckpt.float32(name).T)

    def embed(self, ids: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(to_float32(self._embed[ids], self._embed_dtype))

    # ----- forward -------------------------------------------------------------------------
    def new_cache(self) -> V4Cache:
        return V4Cache([self.layer(i).attn.new_state() for i in range(self.config.num_hidden_layers)])

    def _forward(self, ids: np.ndarray, lengths: list[int], caches: list[V4Cache]) -> tuple[np.ndarray, Routing]:
        cfg, eps = self.config, self.config.rms_norm_eps
        starts = np.cumsum([0] + lengths[:-1]).tolist()
        X = np.repeat(self.embed(ids)[:, None, :], cfg.hc_mult, axis=1)
        routing: Routing = []
        for i in range(cfg.num_hidden_layers):
            layer = self._layers[i] or self.layer(i)
            segments = [(r0, n, c.length, c.layers[i]) for r0, n, c in zip(starts, lengths, caches)]
            pre, mixing = layer.attn_hc.weights(X)
            a = layer.attn(rms_norm(layer.attn_hc.collapse(X, pre), layer.attn_norm, eps), segments)
            X = layer.attn_hc.expand(X, a, mixing)
            pre, mixing = layer.ffn_hc.weights(X)
            y, idx, w = layer.ffn(rms_norm(layer.ffn_hc.collapse(X, pre), layer.ffn_norm, eps), ids)
            X = layer.ffn_hc.expand(X, y, mixing)
            routing.append((idx, w))
        for c, n in zip(caches, lengths):
            c.advance(n)
        return X, routing

    def _head(self, X: np.ndarray) -> np.ndarray:
        h = rms_norm(self._hc_head(X), self._final_norm, self.config.rms_norm_eps)
        return np.ascontiguousarray(apply(h, self.lm_head))

    def prefill(self, sequences: list[np.ndarray], caches: list | None = None,
                all_positions: bool = False) -> tuple[list[np.ndarray], Routing]:
        """Run each sequence from its cache's ``length`` (0 without caches) in one pass.

        Returns per sequence the logits of its last position ((V,)), or of every position
        ((T, V)) when ``all_positions``, and the routing of those rows."""
        sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        caches = caches if caches is not None else [self.new_cache() for _ in sequences]
        lengths = [len(s) for s in sequences]
        X, routing = self._forward(np.concatenate(sequences), lengths, caches)
        ends = np.cumsum(lengths)
        rows = np.arange(ends[-1]) if all_positions else ends - 1
        logits = self._head(X[rows])
        routing = [(idx[rows], w[rows]) for idx, w in routing]
        if all_positions:
            return [logits[e - n:e] for e, n in zip(ends, lengths)], routing
        return list(logits), routing

    def decode(self, caches: list, token_ids) -> tuple[np.ndarray, Routing]:
        """One token for each sequence; returns logits (B, V) and the routing."""
        ids = np.asarray(token_ids, dtype=np.int64)
        X, routing = self._forward(ids, [1] * len(ids), caches)
        return self._head(X), routing

    def indexer_picks(self, token_ids) -> dict[int, list[np.ndarray]]:
        """Stateless pass over ``token_ids``; per CSA layer, the compressed entries each position's
        Lightning Indexer selected (sorted indices)."""
        ids = self.check_tokens(token_ids)
        traced = {i: [] for i, m in enumerate(self.config.compress_ratios) if m == 4}
        for i, picks in traced.items():
            self.layer(i).attn.trace = picks
        try:
            self.prefill([ids])
        finally:
            for i in traced:
                self.layer(i).attn.trace = None
        return traced

    # ----- accounting ----------------------------------------------------------------------
    def prepare(self) -> "V4Model":
        for i in range(self.config.num_hidden_layers):
            self.layer(i)
        self.lm_head  # noqa: B018
        with self._lock:
            if not self._embed.flags.writeable:
                self._embed = np.array(self._embed)
        return self

    def kv_bytes_per_token(self) -> int:
        """Cache bytes each token adds once past the sliding window (all layers, float32):
        ``head_dim / ratio`` per compressed layer, plus ``index_head_dim / 4`` per CSA layer."""
        return int(round(self.kv_bytes_at(1 << 20) / (1 << 20))) if any(self.config.compress_ratios) else 0

    def kv_bytes_at(self, tokens: int) -> int:
        """Cache bytes (float32) for a context of ``tokens``, as ``V4Cache.nbytes_used`` counts
        them: each layer's window ring, its closed compressed entries, the open window's
        projected rows and, on CSA layers, the previous window's first halves (kv and gate);
        the same for the Lightning Indexer's keys on CSA layers."""
        c, total = self.config, 0
        compressors = [(m, c.head_dim) for m in c.compress_ratios if m]
        compressors += [(4, c.index_head_dim) for m in c.compress_ratios if m == 4]
        for m, dim in compressors:
            width = (2 if m == 4 else 1) * dim
            total += (tokens // m) * dim + (tokens % m) * 2 * width
            if m == 4 and tokens >= m:
                total += 2 * m * dim
        total += len(c.compress_ratios) * min(tokens, c.sliding_window) * c.head_dim
        return total * 4

    def decode_weight_bytes(self, batch: int = 1) -> int:
        """Weight bytes one decode step of ``batch`` sequences reads (as the V3 model counts)."""
        layers = [self.layer(i) for i in range(self.config.num_hidden_layers)]
        return self._step_bytes(batch, [layer.ffn.expected_experts(batch) for layer in layers])

    def _step_bytes(self, batch: int, experts_per_moe_layer: list[float]) -> int:
        self.prepare()
        total = batch * self.config.hidden_size * self._embed.itemsize
        for i, experts in zip(range(self.config.num_hidden_layers), experts_per_moe_layer):
            layer = self.layer(i)
            total += sum(a.nbytes for a in layer.decode_arrays())
            total += int(round(experts * layer.ffn.expert_nbytes()))
            if layer.ffn.hashed:
                total += batch * layer.ffn.tid2eid.itemsize * layer.ffn.k
        return total + self._final_norm.nbytes + self._hc_head.w.nbytes + self.lm_head.nbytes


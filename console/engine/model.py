"""The model: lazily prepared layers, stateless logits, batched prefill and latent-cache decode.

Weights: the checkpoint stays memory-mapped (opening reads only the headers). A layer's
matrices are prepared on its first use (``Model.prepare()`` does all of them upfront) into
contiguous float32 arrays stored transposed, (in, out), the layout in which a one-token
``x @ W`` streams fastest (see ``ops``): fused where inputs are shared (q_a + kv_a, gate + up,
router + shared-expert gate/up), experts stacked per layer, absorbed MLA matrices precomputed.
Trade-off: preparing costs one pass over the checkpoint (a few seconds for 1.6 GB) and RAM
equal to the float32 model (a bf16 checkpoint doubles), in exchange for every decode step
reading each weight exactly once from a layout BLAS streams at full speed, with no per-step
conversion or copy. The embedding table is never converted: rows are widened when looked up
(``prepare`` copies it out of the map in its stored dtype).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .attention_gqa import GQAAttention
from .attention_mla import MLAAttention
from .cache import KVCache, LatentCache
from .checkpoint import Checkpoint
from .config import ModelConfig
from .errors import EngineError
from .ffn import MoE, DenseMLP
from .generation import Routing, Step, StepStream
from .ops import lin, rms_norm, transposed
from .rope import Rope
from .safetensors import to_float32
from .tensors import norm_specs, top_specs

from .sampling import SamplingParams

_UNSET = object()


@dataclass
class Layer:
    ln1: np.ndarray
    ln2: np.ndarray
    attn: MLAAttention | GQAAttention
    ffn: MoE | DenseMLP


class Model:
    """A loaded checkpoint. See ``console.engine`` for the public contract."""

    def __init__(self, path: Path, config: ModelConfig, ckpt: Checkpoint, fold: str = "auto") -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.config = config
        self.moe_layers = tuple(config.moe_layers)
        self._ckpt, self._fold = ckpt, fold
        self.rope = Rope(config.rope, config.rope_dim)
        self._layers: list[Layer | None] = [None] * config.num_hidden_layers
        self._lock = threading.Lock()
        top = top_specs(config)
        self._embed_name = top["embed"][0]
        self._embed = ckpt.raw(self._embed_name)
        self._embed_dtype = ckpt.dtype(self._embed_name)
        self._final_norm = ckpt.float32(*top["norm"])
        self._lm_head: np.ndarray | None = None
        self._tokenizer: object = _UNSET

    # ----- weights -------------------------------------------------------------------------
    def _build_layer(self, i: int) -> Layer:
        cfg, ckpt = self.config, self._ckpt
        norms = norm_specs(cfg, i)
        attn_cls = MLAAttention if cfg.is_mla else GQAAttention
        attn = attn_cls(cfg, ckpt, i, self.rope, self._fold)
        ffn = MoE(cfg, ckpt, i) if i in self.moe_layers else DenseMLP(cfg, ckpt, i)
        return Layer(ckpt.float32(*norms["ln1"]), ckpt.float32(*norms["ln2"]), attn, ffn)

    def layer(self, i: int) -> Layer:
        layer = self._layers[i]
        if layer is None:
            with self._lock:
                layer = self._layers[i]
                if layer is None:
                    layer = self._layers[i] = self._build_layer(i)
        return layer

    @property
    def lm_head(self) -> np.ndarray:
        if self._lm_head is None:
            with self._lock:
                if self._lm_head is None:
                    self._lm_head = self._load_head()
        return self._lm_head

    def _load_head(self) -> np.ndarray:
        """The output projection laid out for decode (the embedding when tied)."""
        name = self._embed_name if self.config.tie_word_embeddings else "lm_head.weight"
        return transposed(self._ckpt.float32(name))

    def prepare(self) -> "Model":
        """Prepare every layer and the head now (otherwise each is prepared on first use), and
        copy the embedding table (in its stored dtype) out of the memory map, so that looking
        rows up never waits for the disk (measured: ~10 ms per batch-16 step of the ~400M bench
        model when its pages had left the page cache)."""
        for i in range(self.config.num_hidden_layers):
            self.layer(i)
        self.lm_head  # noqa: B018
        with self._lock:
            if not self._embed.flags.writeable:      # still the read-only view of the map
                self._embed = np.array(self._embed)
        return self

    def embed(self, ids: np.ndarray) -> np.ndarray:
        """Embedding rows (N, H) as a fresh, writable float32 array."""
        return np.ascontiguousarray(to_float32(self._embed[ids], self._embed_dtype))

    # ----- tokenizer -----------------------------------------------------------------------
    @property
    def tokenizer(self):
        """The folder's tokenizer (``console.engine.tokenizer.load_tokenizer``) or None."""
        if self._tokenizer is _UNSET:
            try:
                from .tokenizer import load_tokenizer
            except ImportError:
                self._tokenizer = None
            else:
                self._tokenizer = load_tokenizer(self.path)
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, value) -> None:
        self._tokenizer = value

    # ----- forward -------------------------------------------------------------------------
    def check_tokens(self, token_ids) -> np.ndarray:
        """Token ids as an int64 vector; EngineError if empty, not integers or out of range."""
        try:
            ids = np.asarray(token_ids)
        except (TypeError, ValueError):
            raise EngineError("token ids must be a sequence of integers") from None
        if ids.ndim != 1 or ids.size == 0:
            raise EngineError(f"token ids must be a non-empty 1-D sequence, got shape {ids.shape}")
        if not np.issubdtype(ids.dtype, np.integer):
            raise EngineError(f"token ids must be integers, got {ids.dtype}")
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.config.vocab_size:
            bad = lo if lo < 0 else hi
            raise EngineError(f"token id {bad} is out of range for vocabulary size {self.config.vocab_size}")
        return ids.astype(np.int64)

    def _run(self, x: np.ndarray, attend: Callable) -> tuple[np.ndarray, Routing]:
        eps = self.config.rms_norm_eps
        routing: Routing = []
        for i in range(self.config.num_hidden_layers):
            layer = self._layers[i] or self.layer(i)
            x += attend(layer.attn, rms_norm(x, layer.ln1, eps))
            y, idx, w = layer.ffn(rms_norm(x, layer.ln2, eps))
            x += y
            if idx is not None:
                routing.append((idx, w))
        return x, routing

    def _head(self, x: np.ndarray) -> np.ndarray:
        h = rms_norm(x, self._final_norm, self.config.rms_norm_eps)
        return np.ascontiguousarray(lin(h, self.lm_head))

    def new_cache(self) -> LatentCache | KVCache:
        c = self.config
        if c.is_mla:
            return LatentCache(c.num_hidden_layers, c.kv_lora_rank + c.qk_rope_head_dim)
        return KVCache(c.num_hidden_layers, c.num_key_value_heads, c.head_dim)

    def prefill(self, sequences: list[np.ndarray], caches: list | None = None,
                all_positions: bool = False) -> tuple[list[np.ndarray], Routing]:
        """Run token sequences in one pass, causal within each; each continues its cache.

        With ``caches``, sequence ``i`` continues at ``caches[i].length`` (0 for a new cache):
        its tokens take the positions after the ones the cache holds and attend to them too, so
        a prompt can be prefilled in chunks across calls (chunked prefill) or after a reused
        prefix. Without caches every sequence starts at position 0 (stateless).
        Returns per sequence the logits of its last position ((V,)), or of every position
        ((T, V)) when ``all_positions``; and the routing of the rows whose logits are returned.
        Filled caches then also hold every token of ``sequences``.
        """
        lengths = [len(s) for s in sequences]
        starts = np.cumsum([0] + lengths[:-1])
        offsets = [0] * len(lengths) if caches is None else [int(c.length) for c in caches]
        segments = [(int(s), n) for s, n in zip(starts, lengths)]
        positions = np.concatenate([np.arange(o, o + n) for o, n in zip(offsets, lengths)])
        tables = self.rope.lookup(positions)
        if caches is not None:
            for cache, o, n in zip(caches, offsets, lengths):
                cache.reserve(o + n)
        x = self.embed(np.concatenate(sequences))
        x, routing = self._run(x, lambda attn, h: attn.prefill(h, tables, segments, caches))
        if caches is not None:
            for cache, n in zip(caches, lengths):
                cache.advance(n)
        rows = np.arange(sum(lengths)) if all_positions else np.array([s + n - 1 for s, n in segments])
        logits = self._head(x[rows])
        routing = [(idx[rows], w[rows]) for idx, w in routing]
        if all_positions:
            return [logits[s:s + n] for s, n in segments], routing
        return list(logits), routing

    def decode(self, caches: list, token_ids) -> tuple[np.ndarray, Routing]:
        """One token for each sequence (batched projections and MoE); returns logits (B, V)."""
        if len(caches) == 1 and self.config.is_mla:
            return self._decode_one(caches[0], int(token_ids[0]))
        ids = np.asarray(token_ids, dtype=np.int64)
        positions = np.array([c.length for c in caches], dtype=np.int64)
        tables = self.rope.lookup(positions)
        for c in caches:
            c.reserve(c.length + 1)
        x, routing = self._run(self.embed(ids), lambda attn, h: attn.decode(h, tables, positions, caches))
        for c in caches:
            c.advance(1)
        return self._head(x), routing

    def _decode_one(self, cache: LatentCache, token: int) -> tuple[np.ndarray, Routing]:
        """:meth:`decode` for one MLA sequence: the same arithmetic through each layer's
        ``decode_one`` (batch-1 paths with about half the numpy calls per layer)."""
        pos = cache.length
        cache.reserve(pos + 1)
        rope = self.rope
        rope.ensure(pos + 1)
        cos, sin = rope.cos[pos], rope.sin[pos]
        eps = self.config.rms_norm_eps
        x = self.embed(np.array([token]))
        routing: Routing = []
        for i in range(self.config.num_hidden_layers):
            layer = self._layers[i] or self.layer(i)
            x += layer.attn.decode_one(rms_norm(x, layer.ln1, eps), cos, sin, cache)
            y, idx, w = layer.ffn.decode_one(rms_norm(x, layer.ln2, eps))
            x += y
            if idx is not None:
                routing.append((idx, w))
        cache.advance(1)
        return self._head(x), routing

    def logits(self, token_ids) -> np.ndarray:
        """Logits (T, vocab) float32 at every position of ``token_ids`` (stateless, no cache)."""
        ids = self.check_tokens(token_ids)
        return self.prefill([ids], None, all_positions=True)[0][0]

    # ----- generation (see generation.py) --------------------------------------------------
    def stream(self, token_ids, max_new_tokens: int, sampling: SamplingParams | None = None, *,
               routing: bool = False, should_stop: Callable[[], bool] | None = None) -> Iterator[Step]:
        """Yield :class:`Step`s as tokens are produced (see ``generation.StepStream``)."""
        return StepStream(self, token_ids, max_new_tokens, sampling, routing=routing, should_stop=should_stop)

    def generate(self, token_ids, max_new_tokens: int, sampling: SamplingParams | None = None) -> Iterator[int]:
        """Yield generated token ids (greedy when ``sampling`` is None) through the KV cache."""
        for step in self.stream(token_ids, max_new_tokens, sampling):
            yield step.token_id

    # ----- accounting ----------------------------------------------------------------------
    def kv_bytes_per_token(self) -> int:
        """Cache bytes per token (all layers): MLA latent + rope key, or GQA keys and values."""
        c = self.config
        width = c.kv_lora_rank + c.qk_rope_head_dim if c.is_mla else 2 * c.num_key_value_heads * c.head_dim
        return c.num_hidden_layers * width * 4

    def decode_weight_bytes(self, batch: int = 1) -> int:
        """Weight bytes one decode step of ``batch`` sequences reads (prepares every layer).

        Counts the embedding rows, every layer's norms and attention matrices as used by decode,
        dense / shared MLPs, the router, the routed experts actually used (k for one sequence;
        the expected number of distinct experts under uniform routing for a batch) and the
        final norm and lm_head. For batch 1 this is the bytes read per decoded token.
        """
        experts = [layer.ffn.expected_experts(batch) for layer in self._moe_layer_objects()]
        return self._step_bytes(batch, experts)

    def decode_weight_bytes_for(self, routing: Routing) -> int:
        """Weight bytes of one decode step that routed as ``routing`` (what ``decode`` returned:
        per MoE layer the expert ids (B, k)): like :meth:`decode_weight_bytes`, but counting
        the distinct experts each layer actually used. Bytes / bandwidth is the step's
        memory-bound time, so ``B * bytes(batch 1) / bytes(batch B)`` bounds the batch speedup."""
        ids = [np.asarray(r[0] if isinstance(r, tuple) else r) for r in routing]
        if len(ids) != len(self.moe_layers):
            raise EngineError(f"routing has {len(ids)} MoE layers, the model has {len(self.moe_layers)}")
        batch = ids[0].shape[0] if ids else 1
        return self._step_bytes(batch, [np.unique(i).size for i in ids])

    def _moe_layer_objects(self) -> list[Layer]:
        self.prepare()
        return [self.layer(i) for i in self.moe_layers]

    def _step_bytes(self, batch: int, experts_per_moe_layer: list[float]) -> int:
        self.prepare()
        total = batch * self.config.hidden_size * self._embed.itemsize
        experts = iter(experts_per_moe_layer)
        for i in range(self.config.num_hidden_layers):
            layer = self.layer(i)
            arrays = [layer.ln1, layer.ln2, *layer.attn.decode_arrays(), *layer.ffn.decode_arrays(batch)]
            total += sum(a.nbytes for a in arrays)
            if isinstance(layer.ffn, MoE):
                total += int(round(next(experts) * layer.ffn.expert_nbytes()))
        return total + self._final_norm.nbytes + self.lm_head.nbytes

"""Which tensors a DeepSeek-V4 checkpoint must hold, checked from the headers, and the loading of
one layer's weights into the engine's modules (float32, dequantised from FP8/FP4 if stored so).

Names are DeepSeek's native ones (``layers.N.attn.wq_a.weight`` ...), mapped to the folder's
layout by :class:`~console.engine.v4.names.Names`. ``mtp.*`` tensors (the multi-token-prediction
block) are never read: generation does not use MTP.
"""

from __future__ import annotations

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import EngineError
from .attention import V4Attention
from .compressor import Compressor, Indexer
from .config import V4Config
from .hyper import HyperConnection
from .layout import gather
from .moe import V4MoE
from .names import Names
from .rope import PairRope

Spec = dict[str, tuple[str, tuple[int, ...]]]


def top_specs(cfg: V4Config) -> Spec:
    H, hc = cfg.hidden_size, cfg.hc_mult
    specs = {"embed": ("embed.weight", (cfg.vocab_size, H)), "norm": ("norm.weight", (H,)),
             "hc_fn": ("hc_head_fn", (hc, hc * H)), "hc_base": ("hc_head_base", (hc,)),
             "hc_scale": ("hc_head_scale", (1,))}
    if not cfg.tie_word_embeddings:
        specs["head"] = ("head.weight", (cfg.vocab_size, H))
    return specs


def layer_specs(cfg: V4Config, i: int, names: Names) -> Spec:
    H, nh, d, q = cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim, cfg.q_lora_rank
    g, r, hc, E, I = cfg.o_groups, cfg.o_lora_rank, cfg.hc_mult, cfg.n_routed_experts, cfg.moe_intermediate_size
    mix, p = (2 + hc) * hc, f"layers.{i}."
    s: Spec = {"attn_norm": (p + "attn_norm.weight", (H,)), "ffn_norm": (p + "ffn_norm.weight", (H,))}
    for site in ("attn", "ffn"):
        s.update({f"hc_{site}_fn": (p + f"hc_{site}_fn", (mix, hc * H)),
                  f"hc_{site}_base": (p + f"hc_{site}_base", (mix,)),
                  f"hc_{site}_scale": (p + f"hc_{site}_scale", (3,))})
    a = p + "attn."
    s.update(sinks=(a + "attn_sink", (nh,)), wq_a=(a + "wq_a.weight", (q, H)), q_norm=(a + "q_norm.weight", (q,)),
             wq_b=(a + "wq_b.weight", (nh * d, q)), wkv=(a + "wkv.weight", (d, H)), kv_norm=(a + "norm.weight", (d,)),
             wo_a=(a + "wo_a.weight", (g * r, nh * d // g)), wo_b=(a + "wo_b.weight", (H, g * r)))
    m = cfg.compress_ratios[i]
    if m:
        width = (2 if m == 4 else 1) * d
        c = a + "compressor."
        s.update(c_wkv=(c + "wkv.weight", (width, H)), c_wgate=(c + "wgate.weight", (width, H)),
                 c_ape=(c + "ape", (m, width)), c_norm=(c + "norm.weight", (d,)))
    if m == 4:
        x, di, ni = a + "indexer.", cfg.index_head_dim, cfg.index_n_heads
        s.update(i_wq_b=(x + "wq_b.weight", (ni * di, q)), i_weights=(x + "weights_proj.weight", (ni, H)),
                 i_wkv=(x + "compressor.wkv.weight", (2 * di, H)), i_wgate=(x + "compressor.wgate.weight", (2 * di, H)),
                 i_ape=(x + "compressor.ape", (4, 2 * di)), i_norm=(x + "compressor.norm.weight", (di,)))
    f = p + "ffn."
    s.update(gate=(f + "gate.weight", (E, H)), shared_w1=(f + "shared_experts.w1.weight", (I, H)),
             shared_w3=(f + "shared_experts.w3.weight", (I, H)), shared_w2=(f + "shared_experts.w2.weight", (H, I)))
    if not cfg.hash_layers[i]:
        s["bias"] = (f + "gate.bias", (E,))
    return s


def expert_specs(cfg: V4Config, i: int, names: Names) -> Spec:
    H, E, I = cfg.hidden_size, cfg.n_routed_experts, cfg.moe_intermediate_size
    if names.experts_fused(i):
        return {}
    f = f"layers.{i}.ffn.experts."
    return {f"{e}.{w}": (f + f"{e}.{w}.weight", (I, H) if w != "w2" else (H, I)) for e in range(E)
            for w in ("w1", "w3", "w2")}


def _check_tid2eid(cfg: V4Config, ckpt: Checkpoint, name: str) -> None:
    info = ckpt.info(name)
    if info.dtype not in ("I64", "I32") or tuple(info.shape) != (cfg.vocab_size, cfg.num_experts_per_tok):
        raise EngineError(f"{info.file}: tensor '{name}' is {info.dtype}{list(info.shape)}, expected integer "
                          f"[{cfg.vocab_size}, {cfg.num_experts_per_tok}]")


def check_v4_checkpoint(cfg: V4Config, ckpt: Checkpoint, names: Names) -> None:
    """Validate presence, dtype and (logical) shape of every tensor the model reads (headers only)."""
    for native, shape in top_specs(cfg).values():
        ckpt.check(names(native), shape)
    H, E, I = cfg.hidden_size, cfg.n_routed_experts, cfg.moe_intermediate_size
    for i in range(cfg.num_hidden_layers):
        for native, shape in [*layer_specs(cfg, i, names).values(), *expert_specs(cfg, i, names).values()]:
            ckpt.check(names(native), shape)
        if cfg.hash_layers[i]:
            _check_tid2eid(cfg, ckpt, names(f"layers.{i}.ffn.gate.tid2eid"))
        if names.experts_fused(i):
            gate_up, down = names.fused_experts(i)
            ckpt.check(gate_up, (E, 2 * I, H))
            ckpt.check(down, (E, H, I))


def _experts(cfg: V4Config, ckpt: Checkpoint, names: Names, i: int) -> tuple[np.ndarray, np.ndarray]:
    E, H, I = cfg.n_routed_experts, cfg.hidden_size, cfg.moe_intermediate_size
    if names.experts_fused(i):
        gate_up, down = names.fused_experts(i)
        return ckpt.float32(gate_up).transpose(0, 2, 1), ckpt.float32(down).transpose(0, 2, 1)
    gate_up, down = np.empty((E, H, 2 * I), np.float32), np.empty((E, I, H), np.float32)
    f = f"layers.{i}.ffn.experts."
    for e in range(E):
        gate_up[e, :, :I] = ckpt.float32(names(f + f"{e}.w1.weight")).T
        gate_up[e, :, I:] = ckpt.float32(names(f + f"{e}.w3.weight")).T
        down[e] = ckpt.float32(names(f + f"{e}.w2.weight")).T
    return gate_up, down


class V4Layer:
    """One decoder block: two hyper-connection sites, attention, MoE and their norms."""

    def __init__(self, cfg: V4Config, ckpt: Checkpoint, names: Names, i: int, ropes: dict[str, PairRope]) -> None:
        w = {key: ckpt.float32(names(native)) for key, (native, _) in layer_specs(cfg, i, names).items()}
        hc = dict(hc=cfg.hc_mult, iters=cfg.hc_sinkhorn_iters, hc_eps=cfg.hc_eps, norm_eps=cfg.rms_norm_eps)
        self.attn_hc = HyperConnection(w["hc_attn_fn"], w["hc_attn_base"], w["hc_attn_scale"], **hc)
        self.ffn_hc = HyperConnection(w["hc_ffn_fn"], w["hc_ffn_base"], w["hc_ffn_scale"], **hc)
        self.attn_norm, self.ffn_norm = w["attn_norm"].copy(), w["ffn_norm"].copy()
        m, eps = cfg.compress_ratios[i], cfg.rms_norm_eps
        rope = ropes["compress"] if m else ropes["main"]
        compressor = indexer = None
        if m:
            compressor = Compressor(w["c_wkv"], w["c_wgate"], w["c_ape"], w["c_norm"].copy(), m, cfg.head_dim, rope, eps)
        if m == 4:
            inner = Compressor(w["i_wkv"], w["i_wgate"], w["i_ape"], w["i_norm"].copy(), 4, cfg.index_head_dim,
                               ropes["index"], eps)
            indexer = Indexer(w["i_wq_b"], w["i_weights"], inner, cfg.index_n_heads, cfg.index_head_dim,
                              cfg.index_topk, ropes["index"])
        self.attn = V4Attention(cfg, w, rope, compressor, indexer)
        hashed = cfg.hash_layers[i]
        if hashed:
            w["tid2eid"] = np.array(ckpt.raw(names(f"layers.{i}.ffn.gate.tid2eid")))
        w["experts_gate_up"], w["experts_down"] = _experts(cfg, ckpt, names, i)
        self.ffn = V4MoE(cfg, w, hashed)
        gather([self.attn_hc, self.attn, *([indexer] if indexer else []), self.ffn_hc, self.ffn])

    def decode_arrays(self) -> list[np.ndarray]:
        return [*self.attn_hc.decode_arrays(), *self.ffn_hc.decode_arrays(), self.attn_norm, self.ffn_norm,
                *self.attn.decode_arrays(), *self.ffn.decode_arrays()]

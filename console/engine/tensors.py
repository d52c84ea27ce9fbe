"""Checkpoint tensor names and shapes per architecture (HF names, shapes as (out, in)).

One source of truth used twice: :func:`check_checkpoint` validates every tensor's presence,
dtype and shape from the headers at load time (no data read), and the layer constructors load
the same names. Expert weights are accepted per expert (the form HF saves:
``mlp.experts.E.{gate,up,down}_proj`` / Mixtral ``block_sparse_moe.experts.E.{w1,w3,w2}``) or
fused (transformers-5 in-memory form ``mlp.experts.gate_up_proj`` (E, 2I, H) and
``mlp.experts.down_proj`` (E, H, I)).
"""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoint import Checkpoint
from .config import MIXTRAL, V3, ModelConfig

Spec = tuple[str, tuple[int, ...]]


def prefix(i: int) -> str:
    return f"model.layers.{i}."


def top_specs(cfg: ModelConfig) -> dict[str, Spec]:
    specs = {"embed": ("model.embed_tokens.weight", (cfg.vocab_size, cfg.hidden_size)),
             "norm": ("model.norm.weight", (cfg.hidden_size,))}
    if not cfg.tie_word_embeddings:
        specs["lm_head"] = ("lm_head.weight", (cfg.vocab_size, cfg.hidden_size))
    return specs


def norm_specs(cfg: ModelConfig, i: int) -> dict[str, Spec]:
    p, h = prefix(i), (cfg.hidden_size,)
    return {"ln1": (p + "input_layernorm.weight", h), "ln2": (p + "post_attention_layernorm.weight", h)}


def attention_specs(cfg: ModelConfig, i: int) -> dict[str, Spec]:
    p, H, nh = prefix(i) + "self_attn.", cfg.hidden_size, cfg.num_attention_heads
    if not cfg.is_mla:
        hd, kv = cfg.head_dim, cfg.num_key_value_heads
        return {"q": (p + "q_proj.weight", (nh * hd, H)), "k": (p + "k_proj.weight", (kv * hd, H)),
                "v": (p + "v_proj.weight", (kv * hd, H)), "o": (p + "o_proj.weight", (H, nh * hd))}
    dc, dr = cfg.kv_lora_rank, cfg.qk_rope_head_dim
    specs = {"kv_a": (p + "kv_a_proj_with_mqa.weight", (dc + dr, H)),
             "kv_a_norm": (p + "kv_a_layernorm.weight", (dc,)),
             "kv_b": (p + "kv_b_proj.weight", (nh * (cfg.qk_nope_head_dim + cfg.v_head_dim), dc)),
             "o": (p + "o_proj.weight", (H, nh * cfg.v_head_dim))}
    if cfg.q_lora_rank is None:
        specs["q"] = (p + "q_proj.weight", (nh * cfg.qk_head_dim, H))
    else:
        dq = cfg.q_lora_rank
        specs.update(q_a=(p + "q_a_proj.weight", (dq, H)), q_a_norm=(p + "q_a_layernorm.weight", (dq,)),
                     q_b=(p + "q_b_proj.weight", (nh * cfg.qk_head_dim, dq)))
    return specs


def dense_specs(cfg: ModelConfig, i: int) -> dict[str, Spec]:
    p, H, inter = prefix(i) + "mlp.", cfg.hidden_size, cfg.intermediate_size
    return {"gate": (p + "gate_proj.weight", (inter, H)), "up": (p + "up_proj.weight", (inter, H)),
            "down": (p + "down_proj.weight", (H, inter))}


@dataclass(frozen=True)
class MoESpecs:
    router: Spec
    bias: Spec | None                 # V3 correction bias (HF: zeros when absent)
    shared: dict[str, Spec]           # gate/up/down of the shared expert(s); empty when none
    fused: bool                       # experts stored fused (E, 2I, H) / (E, H, I)
    experts: dict[str, str]           # name templates with {e}, or the two fused names


def moe_specs(cfg: ModelConfig, i: int, ckpt: Checkpoint) -> MoESpecs:
    p, H, E, inter = prefix(i), cfg.hidden_size, cfg.n_routed_experts, cfg.moe_intermediate_size
    if cfg.architecture == MIXTRAL:
        block = "block_sparse_moe." if (p + "block_sparse_moe.gate.weight") in ckpt else "mlp."
        per_expert = {"gate": p + block + "experts.{e}.w1.weight", "up": p + block + "experts.{e}.w3.weight",
                      "down": p + block + "experts.{e}.w2.weight"}
    else:
        block = "mlp."
        per_expert = {"gate": p + block + "experts.{e}.gate_proj.weight",
                      "up": p + block + "experts.{e}.up_proj.weight",
                      "down": p + block + "experts.{e}.down_proj.weight"}
    fused_names = {"gate_up": p + block + "experts.gate_up_proj", "down": p + block + "experts.down_proj"}
    fused = per_expert["gate"].format(e=0) not in ckpt and fused_names["gate_up"] in ckpt
    bias = None
    if cfg.architecture == V3:
        bias = (p + "mlp.gate.e_score_correction_bias", (E,))
    shared: dict[str, Spec] = {}
    if cfg.n_shared_experts:
        s, width = p + "mlp.shared_experts.", cfg.n_shared_experts * inter
        shared = {"gate": (s + "gate_proj.weight", (width, H)), "up": (s + "up_proj.weight", (width, H)),
                  "down": (s + "down_proj.weight", (H, width))}
    return MoESpecs(router=(p + block + "gate.weight", (E, H)), bias=bias, shared=shared, fused=fused,
                    experts=fused_names if fused else per_expert)


def expert_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    H, inter = cfg.hidden_size, cfg.moe_intermediate_size
    return {"gate": (inter, H), "up": (inter, H), "down": (H, inter)}


def check_checkpoint(cfg: ModelConfig, ckpt: Checkpoint) -> None:
    """Validate presence, dtype and shape of every tensor the model will read (headers only)."""
    for name, shape in top_specs(cfg).values():
        ckpt.check(name, shape)
    E, H, inter = cfg.n_routed_experts, cfg.hidden_size, cfg.moe_intermediate_size
    for i in range(cfg.num_hidden_layers):
        specs = [*norm_specs(cfg, i).values(), *attention_specs(cfg, i).values()]
        if i in cfg.moe_layers:
            moe = moe_specs(cfg, i, ckpt)
            specs += [moe.router, *moe.shared.values()]
            if moe.bias is not None and moe.bias[0] in ckpt:
                specs.append(moe.bias)
            if moe.fused:
                specs += [(moe.experts["gate_up"], (E, 2 * inter, H)), (moe.experts["down"], (E, H, inter))]
            else:
                shapes = expert_shapes(cfg)
                specs += [(tmpl.format(e=e), shapes[k]) for e in range(E) for k, tmpl in moe.experts.items()]
        else:
            specs += list(dense_specs(cfg, i).values())
        for name, shape in specs:
            ckpt.check(name, shape)

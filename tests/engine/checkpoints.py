"""Tiny random Hugging Face checkpoints for the engine tests, written with numpy only.

``write_checkpoint(folder, arch, **overrides)`` writes config.json plus model.safetensors (or
``shards`` files and model.safetensors.index.json) with random weights in the requested dtype.
Weights are scaled so logits are O(1) and routing/greedy decisions are not near ties.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from console.engine.safetensors import save_file

V3_BASE = dict(
    architectures=["DeepseekV3ForCausalLM"], model_type="deepseek_v3", vocab_size=96, hidden_size=32,
    intermediate_size=48, moe_intermediate_size=16, num_hidden_layers=3, num_attention_heads=4,
    n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, n_group=4, topk_group=2,
    kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=12,
    first_k_dense_replace=1, norm_topk_prob=True, routed_scaling_factor=2.5, rms_norm_eps=1e-6,
    max_position_embeddings=512, rope_theta=10000.0, tie_word_embeddings=False,
    bos_token_id=0, eos_token_id=1)
V2_BASE = dict(V3_BASE, architectures=["DeepseekV2ForCausalLM"], model_type="deepseek_v2",
               topk_method="greedy", n_group=None, topk_group=None, routed_scaling_factor=1.0,
               norm_topk_prob=False, n_shared_experts=2)
MIXTRAL_BASE = dict(
    architectures=["MixtralForCausalLM"], model_type="mixtral", vocab_size=96, hidden_size=32,
    intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    head_dim=16, num_local_experts=4, num_experts_per_tok=2, rms_norm_eps=1e-5,
    max_position_embeddings=512, rope_theta=1e6, tie_word_embeddings=False, sliding_window=None,
    bos_token_id=1, eos_token_id=2)
BASES = {"v3": V3_BASE, "v2": V2_BASE, "mixtral": MIXTRAL_BASE}


def make_config(arch: str = "v3", **overrides) -> dict:
    cfg = dict(BASES[arch])
    cfg.update(overrides)
    return {k: v for k, v in cfg.items() if v is not _DROP}


_DROP = object()
DROP = _DROP  # pass as an override value to leave a key out of config.json


def random_tensors(cfg: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights with the HF names and shapes for ``cfg`` (a config dict)."""
    rng = np.random.default_rng(seed)
    H, V = cfg["hidden_size"], cfg["vocab_size"]
    t: dict[str, np.ndarray] = {}

    def mat(name, out, inp, scale=1.0):
        t[name] = (rng.standard_normal((out, inp)) * scale / np.sqrt(inp)).astype(np.float32)

    def vec(name, n):
        t[name] = (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    t["model.embed_tokens.weight"] = rng.standard_normal((V, H)).astype(np.float32)
    vec("model.norm.weight", H)
    if not cfg.get("tie_word_embeddings"):
        mat("lm_head.weight", V, H, 2.0)
    mixtral = cfg["architectures"][0] == "MixtralForCausalLM"
    nh = cfg["num_attention_heads"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        vec(p + "input_layernorm.weight", H)
        vec(p + "post_attention_layernorm.weight", H)
        a = p + "self_attn."
        if mixtral:
            hd, kv = cfg["head_dim"], cfg["num_key_value_heads"]
            mat(a + "q_proj.weight", nh * hd, H, 2.0)
            mat(a + "k_proj.weight", kv * hd, H, 2.0)
            mat(a + "v_proj.weight", kv * hd, H)
            mat(a + "o_proj.weight", H, nh * hd)
            inter, E = cfg["intermediate_size"], cfg["num_local_experts"]
            m = p + "block_sparse_moe."
            mat(m + "gate.weight", E, H, 3.0)
            for e in range(E):
                mat(m + f"experts.{e}.w1.weight", inter, H)
                mat(m + f"experts.{e}.w3.weight", inter, H)
                mat(m + f"experts.{e}.w2.weight", H, inter)
            continue
        dn, dr, dv, dc = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
        dq = cfg.get("q_lora_rank", 1536)
        if dq is None:
            mat(a + "q_proj.weight", nh * (dn + dr), H, 2.0)
        else:
            mat(a + "q_a_proj.weight", dq, H)
            vec(a + "q_a_layernorm.weight", dq)
            mat(a + "q_b_proj.weight", nh * (dn + dr), dq, 2.0)
        mat(a + "kv_a_proj_with_mqa.weight", dc + dr, H)
        vec(a + "kv_a_layernorm.weight", dc)
        mat(a + "kv_b_proj.weight", nh * (dn + dv), dc, 2.0)
        mat(a + "o_proj.weight", H, nh * dv)
        m = p + "mlp."
        if i < cfg.get("first_k_dense_replace", 0):
            inter = cfg["intermediate_size"]
            mat(m + "gate_proj.weight", inter, H)
            mat(m + "up_proj.weight", inter, H)
            mat(m + "down_proj.weight", H, inter)
            continue
        E, inter = cfg["n_routed_experts"], cfg["moe_intermediate_size"]
        mat(m + "gate.weight", E, H, 3.0)
        if cfg["architectures"][0] == "DeepseekV3ForCausalLM":
            t[m + "gate.e_score_correction_bias"] = (0.1 * rng.standard_normal(E)).astype(np.float32)
        for e in range(E):
            mat(m + f"experts.{e}.gate_proj.weight", inter, H)
            mat(m + f"experts.{e}.up_proj.weight", inter, H)
            mat(m + f"experts.{e}.down_proj.weight", H, inter)
        ns = cfg.get("n_shared_experts") or 0
        if ns:
            mat(m + "shared_experts.gate_proj.weight", ns * inter, H)
            mat(m + "shared_experts.up_proj.weight", ns * inter, H)
            mat(m + "shared_experts.down_proj.weight", H, ns * inter)
    return t


def write_folder(folder: Path, cfg: dict, tensors: dict[str, np.ndarray], dtype: str = "F32",
                 shards: int = 1) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    dtypes = {n: "F32" for n in tensors if n.endswith("e_score_correction_bias")}  # as in HF bf16 files
    if shards == 1:
        save_file(folder / "model.safetensors", tensors, dtype=dtype, dtypes=dtypes)
        return folder
    names = sorted(tensors)
    weight_map = {}
    for s in range(shards):
        part = names[s::shards]
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file(folder / fname, {n: tensors[n] for n in part}, dtype=dtype, dtypes=dtypes)
        weight_map.update({n: fname for n in part})
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return folder


def write_checkpoint(folder: Path, arch: str = "v3", dtype: str = "F32", shards: int = 1, seed: int = 0,
                     **overrides) -> Path:
    """Write a random checkpoint of ``arch`` ("v3", "v2", "mixtral") with config ``overrides``."""
    cfg = make_config(arch, **overrides)
    return write_folder(folder, cfg, random_tensors(cfg, seed), dtype=dtype, shards=shards)

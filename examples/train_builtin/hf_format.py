"""Write a trained ``DeepseekV3LM`` as a genuine Hugging Face checkpoint folder.

``hf_config(shape, tokenizer_info)`` gives config.json with every key explicit;
``save_folder`` writes config.json, generation_config.json, model.safetensors
(bf16 or fp16 weights; the router weight and correction bias stay float32, as
transformers keeps them) and copies the tokenizer files.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from model import DeepseekV3LM, ModelShape

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
FLOAT32_SUFFIXES = ("mlp.gate.weight", "mlp.gate.e_score_correction_bias")


def hf_config(s: ModelShape, *, bos_token_id: int | None, eos_token_id: int | list[int], pad_token_id: int | None,
              dtype: str = "bfloat16") -> dict:
    """config.json for DeepseekV3ForCausalLM, all keys explicit (q_lora_rank null when no q-LoRA)."""
    return {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "vocab_size": s.vocab_size,
        "hidden_size": s.hidden_size,
        "intermediate_size": s.intermediate_size,
        "moe_intermediate_size": s.moe_intermediate_size,
        "num_hidden_layers": s.num_hidden_layers,
        "num_attention_heads": s.num_attention_heads,
        "num_key_value_heads": s.num_attention_heads,
        "q_lora_rank": s.q_lora_rank,
        "kv_lora_rank": s.kv_lora_rank,
        "qk_nope_head_dim": s.qk_nope_head_dim,
        "qk_rope_head_dim": s.qk_rope_head_dim,
        "v_head_dim": s.v_head_dim,
        "n_routed_experts": s.n_routed_experts,
        "num_experts_per_tok": s.num_experts_per_tok,
        "n_shared_experts": s.n_shared_experts,
        "n_group": s.n_group,
        "topk_group": s.topk_group,
        "first_k_dense_replace": s.first_k_dense_replace,
        "moe_layer_freq": 1,
        "scoring_func": "sigmoid",
        "topk_method": "noaux_tc",
        "norm_topk_prob": s.norm_topk_prob,
        "routed_scaling_factor": s.routed_scaling_factor,
        "hidden_act": "silu",
        "rms_norm_eps": s.rms_norm_eps,
        "rope_theta": s.rope_theta,
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": s.rope_theta},
        "rope_interleave": True,
        "max_position_embeddings": s.max_position_embeddings,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "tie_word_embeddings": s.tie_word_embeddings,
        "num_nextn_predict_layers": 0,
        "initializer_range": 0.02,
        "use_cache": True,
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
        "torch_dtype": dtype,
        "dtype": dtype,
    }


def hf_state_dict(model: DeepseekV3LM, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Tensors under their HF names; tied lm_head omitted; router tensors float32."""
    out = {}
    for name, t in model.state_dict().items():
        if name == "lm_head.weight" and model.shape.tie_word_embeddings:
            continue
        keep32 = name.endswith(FLOAT32_SUFFIXES)
        out[name] = t.detach().to(torch.float32 if keep32 else dtype).contiguous().clone()
    return out


def save_folder(model: DeepseekV3LM, folder: Path, tokenizer_dir: Path, *, dtype: str = "bfloat16",
                metadata: dict | None = None) -> Path:
    """Write the HF folder; returns it. Overwrites the files it writes, leaves others."""
    folder.mkdir(parents=True, exist_ok=True)
    tok_cfg = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    tok = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}

    def tid(key: str) -> int | None:
        v = tok_cfg.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        return ids.get(v) if v else None

    eos = tid("eos_token")
    stops = [eos] + [ids[n] for n in ("<|im_end|>", "<|end|>", "<|eot_id|>", "<|endoftext|>") if n in ids]
    stops = [i for i in dict.fromkeys(stops) if i is not None]
    cfg = hf_config(model.shape, bos_token_id=tid("bos_token"), eos_token_id=eos,
                    pad_token_id=tid("pad_token"), dtype=dtype)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    gen = {"bos_token_id": cfg["bos_token_id"], "eos_token_id": stops if len(stops) > 1 else eos,
           "pad_token_id": cfg["pad_token_id"], "do_sample": True, "temperature": 0.7, "top_p": 0.9,
           "max_new_tokens": 128}
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    tensors = hf_state_dict(model, getattr(torch, dtype))
    meta = {"format": "pt"} | {k: str(v) for k, v in (metadata or {}).items()}
    tmp = folder / "model.safetensors.tmp"
    save_file(tensors, str(tmp), metadata=meta)
    tmp.chmod(0o644)
    tmp.replace(folder / "model.safetensors")
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).exists():
            shutil.copyfile(tokenizer_dir / name, folder / name)
    return folder


def shape_from_config(cfg: dict) -> ModelShape:
    """Inverse of ``hf_config``: the ModelShape a config.json describes."""
    names = ModelShape.__dataclass_fields__
    kw = {k: cfg[k] for k in names if k in cfg}
    rope = cfg.get("rope_parameters") or {}
    kw["rope_theta"] = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    return ModelShape(**kw)


def load_folder_model(folder: Path) -> DeepseekV3LM:
    """Our torch module with the folder's weights, in float32."""
    from safetensors.torch import load_file

    shape = shape_from_config(json.loads((folder / "config.json").read_text()))
    model = DeepseekV3LM(shape)
    tensors = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    if shape.tie_word_embeddings:
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    model.load_state_dict(tensors, strict=True)
    return model.eval()

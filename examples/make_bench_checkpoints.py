"""Write random DeepSeek-V3 (and V4) checkpoints for ``moe-console bench``.

Usage (needs torch + transformers, e.g. the ``reference`` extra)::

    nice -n 10 .venv-ref/bin/python examples/make_bench_checkpoints.py build/benchckpt

writes ``DIR/small`` (~15M parameters) and ``DIR/large`` (~400M parameters),
each a genuine Hugging Face folder made by transformers'
``DeepseekV3ForCausalLM.save_pretrained`` (float32 safetensors, sharded for
the large one). ``DIR/v4-large`` (~430M parameters) is a DeepSeek-V4 of the
large one's width (hidden 1024, 8 layers: 2 sliding-window, then CSA / HCA
alternating, mHC with 4 streams, 2 hash-routed layers), made by transformers'
``DeepseekV4ForCausalLM``. Weights are random (seeded): these folders measure
speed, not quality. Pass ``--only NAME`` to write one of them. The parameter
counts (total and active per token) are printed.

Then, for example::

    nice -n 10 moe-console bench --engine build/benchckpt/small
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SPECS = {
    "small": dict(
        vocab_size=8192, hidden_size=256, intermediate_size=1024, moe_intermediate_size=256,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
        q_lora_rank=128, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
        n_routed_experts=16, num_experts_per_tok=2, n_shared_experts=1, n_group=4, topk_group=2,
        first_k_dense_replace=1, routed_scaling_factor=2.5, norm_topk_prob=True,
        max_position_embeddings=4096,
    ),
    "large": dict(
        vocab_size=16384, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512,
        num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=8,
        q_lora_rank=384, kv_lora_rank=256, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64,
        n_routed_experts=32, num_experts_per_tok=4, n_shared_experts=1, n_group=4, topk_group=2,
        first_k_dense_replace=1, routed_scaling_factor=2.5, norm_topk_prob=True,
        max_position_embeddings=4096,
    ),
}

V4_SPECS = {
    "v4-large": dict(
        vocab_size=16384, hidden_size=1024, moe_intermediate_size=512, num_hidden_layers=8,
        num_attention_heads=8, head_dim=256, qk_rope_head_dim=32, q_lora_rank=384, o_groups=4,
        o_lora_rank=256, n_routed_experts=28, num_experts_per_tok=4, sliding_window=128,
        layer_types=["sliding_attention"] * 2 + ["compressed_sparse_attention", "heavily_compressed_attention"] * 3,
        mlp_layer_types=["hash_moe"] * 2 + ["moe"] * 6, index_n_heads=8, index_head_dim=64, index_topk=64,
        hc_mult=4, max_position_embeddings=65536, routed_scaling_factor=1.5, swiglu_limit=10.0,
        rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16384},
    ),
}

ROPE = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
        "original_max_position_embeddings": 1024, "mscale": 1.0, "mscale_all_dim": 1.0}


def active_params(spec: dict) -> int:
    """Weights one decoded token reads (attention, dense MLPs, shared and
    top-k routed experts, routers, norms, the lm_head; one embedding row)."""
    h, v = spec["hidden_size"], spec["vocab_size"]
    heads, nope, rope, vd = (spec["num_attention_heads"], spec["qk_nope_head_dim"],
                             spec["qk_rope_head_dim"], spec["v_head_dim"])
    dq, dc = spec["q_lora_rank"], spec["kv_lora_rank"]
    attn = dq * h + heads * (nope + rope) * dq + (dc + rope) * h + heads * (nope + vd) * dc + h * heads * vd
    expert = 3 * h * spec["moe_intermediate_size"]
    dense_layers = spec["first_k_dense_replace"]
    moe_layers = spec["num_hidden_layers"] - dense_layers
    moe = (spec["num_experts_per_tok"] + spec["n_shared_experts"]) * expert + spec["n_routed_experts"] * h
    return (spec["num_hidden_layers"] * attn + dense_layers * 3 * h * spec["intermediate_size"]
            + moe_layers * moe + v * h + h)


def write_v4(name: str, out: Path, seed: int) -> None:
    import torch
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    spec = V4_SPECS[name]
    torch.manual_seed(seed)
    model = DeepseekV4ForCausalLM(DeepseekV4Config(**spec)).float().eval()
    with torch.no_grad():
        for module in model.modules():
            table = getattr(module, "tid2eid", None)
            if table is not None:     # a fixed random token -> experts table (distinct experts per row)
                table.copy_(torch.stack([torch.randperm(spec["n_routed_experts"])[:table.shape[1]]
                                         for _ in range(table.shape[0])]))
    total = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out / name, max_shard_size="500MB")
    print(f"{name}: {total / 1e6:.1f}M parameters -> {out / name}")


def write(name: str, out: Path, seed: int) -> None:
    if name in V4_SPECS:
        return write_v4(name, out, seed)
    import torch
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    spec = SPECS[name]
    torch.manual_seed(seed)
    config = DeepseekV3Config(**spec, rope_parameters=dict(ROPE), tie_word_embeddings=False)
    model = DeepseekV3ForCausalLM(config).float().eval()
    with torch.no_grad():
        for module in model.modules():
            bias = getattr(module, "e_score_correction_bias", None)
            if bias is not None:
                bias.copy_(0.01 * torch.randn(bias.shape))
    total = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out / name, max_shard_size="500MB")
    print(f"{name}: {total / 1e6:.1f}M parameters, {active_params(spec) / 1e6:.1f}M active per token "
          f"-> {out / name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write small/ and large/ into")
    parser.add_argument("--only", choices=sorted(SPECS) + sorted(V4_SPECS), help="write just this checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        print(f"make_bench_checkpoints: needs torch and transformers ({exc.name} missing)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name in [*SPECS, *V4_SPECS]:
        if args.only in (None, name):
            write(name, args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

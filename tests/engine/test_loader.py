"""Loading Hugging Face folders: safetensors by hand, dtypes, shards, memory mapping, configs."""

from __future__ import annotations

import json
import mmap

import numpy as np
import pytest

from console.engine import load_model
from console.engine.config import load_config
from console.engine.safetensors import SafetensorsFile, float32_to_bf16_bits, save_file, to_float32

from .checkpoints import DROP, make_config, random_tensors, write_checkpoint, write_folder

PROMPT = [5, 17, 3, 44, 90, 12, 7]


def test_safetensors_roundtrip_and_header_layout(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"a": rng.standard_normal((3, 5)).astype(np.float32), "b": rng.standard_normal(7).astype(np.float32)}
    path = tmp_path / "x.safetensors"
    save_file(path, tensors, metadata={"format": "pt"})
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    assert header["a"] == {"dtype": "F32", "shape": [3, 5], "data_offsets": [0, 60]}
    assert (8 + n) % 8 == 0
    f = SafetensorsFile(path)
    assert f.metadata == {"format": "pt"}
    for name, arr in tensors.items():
        np.testing.assert_array_equal(f.float32(name), arr)


def test_bfloat16_widening_is_exact():
    values = np.array([1.0, -2.5, 3.140625, 0.0, -0.0, 65280.0, 1e-3], np.float32)
    bits = float32_to_bf16_bits(values)
    assert bits[0] == 0x3F80 and bits[1] == 0xC020
    back = to_float32(bits, "BF16")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back[:6], values[:6])       # exactly representable values
    assert abs(back[6] - 1e-3) < 1e-5                        # nearest bf16
    # round-to-nearest-even on the dropped 16 bits
    assert float32_to_bf16_bits(np.array([np.float32(1.0) + np.float32(2 ** -8)]))[0] == 0x3F80


def test_float32_weights_are_zero_copy_views_of_the_map(tmp_path):
    folder = write_checkpoint(tmp_path / "m", "v3")
    model = load_model(folder)
    shard = model._ckpt.files[0]
    assert isinstance(shard._mmap, mmap.mmap)
    head = model._ckpt.float32("lm_head.weight")
    assert not head.flags.owndata and not head.flags.writeable     # a view of the read-only map
    assert model._layers == [None] * 3                             # nothing prepared at load
    model.logits([1, 2])
    assert all(layer is not None for layer in model._layers)


@pytest.mark.parametrize("dtype", ["BF16", "F16"])
def test_half_precision_checkpoints_match_float32_of_the_same_values(tmp_path, dtype):
    cfg = make_config("v3")
    tensors = random_tensors(cfg, seed=3)
    if dtype == "BF16":
        rounded = {k: to_float32(float32_to_bf16_bits(v), "BF16") for k, v in tensors.items()}
    else:
        rounded = {k: v.astype(np.float16).astype(np.float32) for k, v in tensors.items()}
    rounded = {k: (tensors[k] if k.endswith("correction_bias") else v) for k, v in rounded.items()}
    half = load_model(write_folder(tmp_path / "half", cfg, tensors, dtype=dtype))
    full = load_model(write_folder(tmp_path / "full", cfg, rounded, dtype="F32"))
    assert half._ckpt.dtype("lm_head.weight") == dtype
    got, want = half.logits(PROMPT), full.logits(PROMPT)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert list(half.generate(PROMPT, 6)) == list(full.generate(PROMPT, 6))


def test_sharded_index_loads_the_same_model(tmp_path):
    cfg = make_config("v3")
    tensors = random_tensors(cfg, seed=5)
    single = load_model(write_folder(tmp_path / "one", cfg, tensors))
    sharded = load_model(write_folder(tmp_path / "three", cfg, tensors, shards=3))
    assert len(sharded._ckpt.files) == 3
    np.testing.assert_array_equal(sharded.logits(PROMPT), single.logits(PROMPT))


def test_hub_rope_form_and_transformers5_form_agree(tmp_path):
    yarn = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "mscale": 1.0,
            "mscale_all_dim": 1.0, "beta_fast": 32, "beta_slow": 1}
    hub = make_config("v3", rope_theta=5000.0, rope_scaling=yarn)
    tf5 = make_config("v3", rope_theta=DROP, rope_parameters=dict(yarn, rope_type="yarn", rope_theta=5000.0))
    tensors = random_tensors(hub, seed=7)
    a = load_model(write_folder(tmp_path / "hub", hub, tensors))
    b = load_model(write_folder(tmp_path / "tf5", tf5, tensors))
    assert a.config.rope == b.config.rope
    assert a.config.rope.rope_type == "yarn" and a.config.rope.theta == 5000.0
    np.testing.assert_array_equal(a.logits(PROMPT), b.logits(PROMPT))
    plain = load_model(write_folder(tmp_path / "plain", make_config("v3", rope_theta=5000.0), tensors))
    assert np.abs(plain.logits(PROMPT) - a.logits(PROMPT)).max() > 1e-3   # YaRN really changes things


def test_config_traps_follow_transformers(tmp_path):
    # q_lora_rank absent -> 1536 (not "no LoRA"); explicit null -> a plain q_proj
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "config.json").write_text(json.dumps(make_config("v3", q_lora_rank=DROP, head_dim=999)))
    cfg = load_config(tmp_path / "a")
    assert cfg.q_lora_rank == 1536
    assert cfg.qk_head_dim == 16 and cfg.rope_dim == 8          # head_dim (999) is not the head size
    (tmp_path / "a" / "config.json").write_text(json.dumps(make_config("v3", q_lora_rank=None)))
    assert load_config(tmp_path / "a").q_lora_rank is None
    # HF V3 ignores scoring_func/topk_method: always sigmoid + bias
    (tmp_path / "a" / "config.json").write_text(
        json.dumps(make_config("v3", scoring_func="softmax", topk_method="greedy")))
    assert load_config(tmp_path / "a").router == "v3"
    # mixtral: head_dim defaults to hidden / heads, eps default 1e-5
    (tmp_path / "a" / "config.json").write_text(
        json.dumps(make_config("mixtral", head_dim=DROP, rms_norm_eps=DROP)))
    m = load_config(tmp_path / "a")
    assert m.head_dim == 8 and m.rms_norm_eps == 1e-5 and m.moe_layers == (0, 1)


def test_deepseek_v3_yarn_scale_and_frequencies_match_the_spec(tmp_path):
    from console.engine.rope import inverse_frequencies

    hub = {"architectures": ["DeepseekV3ForCausalLM"], "rope_theta": 10000,
           "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                            "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
           "max_position_embeddings": 163840}
    (tmp_path / "config.json").write_text(json.dumps(hub))
    cfg = load_config(tmp_path)
    assert cfg.q_lora_rank == 1536 and cfg.moe_layers[0] == 3 and cfg.n_group == 8
    assert abs(cfg.attention_scale - 192 ** -0.5 * (0.1 * np.log(40) + 1) ** 2) < 1e-9
    assert abs(cfg.attention_scale - 0.1352) < 1e-4
    inv, attention = inverse_frequencies(cfg.rope, 64)
    base = 10000.0 ** -(np.arange(0, 64, 2) / 64)
    assert attention == 1.0
    np.testing.assert_allclose(inv[:10], base[:10], rtol=1e-6)          # pairs < lo = 10 kept
    np.testing.assert_allclose(inv[23:], base[23:] / 40, rtol=1e-6)     # pairs >= hi = 23 divided by s
    assert base[15] / 40 < inv[15] < base[15]                           # the ramp in between

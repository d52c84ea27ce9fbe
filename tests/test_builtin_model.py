"""The shipped built-in model (console/engine/builtin/): a genuine DeepSeek-V3 HF folder that the
numpy engine runs exactly as transformers does, small enough to ship, and able to chat.

The reference logits in tests/fixtures/builtin/expected_logits.npz were computed by transformers
(DeepseekV3ForCausalLM.from_pretrained, float32) by examples/train_builtin/verify_hf.py; these
tests need neither torch nor transformers.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from console.engine import SamplingParams, builtin_model_path, load_builtin

FIXTURE = Path(__file__).parent / "fixtures" / "builtin" / "expected_logits.npz"
MAX_FOLDER_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def model():
    return load_builtin()


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads((builtin_model_path() / "config.json").read_text())


def test_folder_is_a_deepseek_v3_checkpoint_with_group_limited_sigmoid_routing(config):
    folder = builtin_model_path()
    assert config["model_type"] == "deepseek_v3"
    assert config["architectures"] == ["DeepseekV3ForCausalLM"]
    assert "q_lora_rank" in config  # absent would mean 1536 to transformers
    assert config["n_group"] > 1 and 0 < config["topk_group"] < config["n_group"]
    assert config["n_routed_experts"] % config["n_group"] == 0
    assert config["n_shared_experts"] >= 1 and config["norm_topk_prob"] is True
    assert config["first_k_dense_replace"] < config["num_hidden_layers"]
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        assert (folder / name).is_file(), name


def test_folder_fits_the_size_budget():
    folder = builtin_model_path()
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert 0 < size <= MAX_FOLDER_BYTES, f"{size / 1e6:.1f} MB"


def test_engine_reproduces_transformers_logits(model):
    ref = np.load(FIXTURE)
    digest = hashlib.sha256((builtin_model_path() / "model.safetensors").read_bytes()).hexdigest()
    assert str(ref["model_sha256"]) == digest, (
        "fixture belongs to other weights: rerun examples/train_builtin/verify_hf.py --fixture")
    logits = model.logits(ref["token_ids"].tolist())
    assert logits.dtype == np.float32
    assert logits.shape == (len(ref["token_ids"]), model.config.vocab_size)
    got = logits[ref["positions"]]
    expected = ref["logits"]
    tol = 1e-4 + 1e-4 * float(np.abs(expected).max())
    assert float(np.abs(got - expected).max()) <= tol


def test_fixture_prompt_is_the_engine_chat_template(model):
    ids = model.tokenizer.apply_chat_template([{"role": "user", "content": "What is a dog?"}])
    assert ids == np.load(FIXTURE)["token_ids"].tolist()


def test_greedy_chat_reply_is_nonempty_text_and_routes_over_many_experts(model, config):
    tok = model.tokenizer
    ids = tok.apply_chat_template([{"role": "user", "content": "Hello, how are you?"}])
    params = SamplingParams(temperature=0.0, stop_token_ids=tok.stop_token_ids)
    steps = list(model.stream(ids, 32, params, routing=True))
    text = tok.decode([s.token_id for s in steps if s.token_id not in tok.stop_token_ids])
    assert text.strip(), "empty reply"
    assert "<|" not in text
    used = {e for s in steps for layer in s.routing for e in layer}
    assert len(used) > 2 * config["num_experts_per_tok"]  # routing is live, not collapsed


def test_engine_runs_the_builtin_model_without_torch():
    code = ("import sys, console.engine as e; m = e.load_builtin(); m.logits([8187, 8189, 42]); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

"""Every bad checkpoint or request is one clear line (an EngineError naming file and tensor)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import console.engine as engine
from console.engine import EngineError, SamplingParams, load_model

from .checkpoints import make_config, write_checkpoint


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(EngineError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    return message


@pytest.fixture
def good(tmp_path):
    return write_checkpoint(tmp_path / "good", "v3")


def rewrite_header(path, edit):
    """Rewrite a safetensors header through ``edit(header_dict)``, keeping the data (offsets are relative)."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])


def test_missing_folder_and_missing_config(tmp_path):
    assert "no such model folder" in error_of(load_model, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    msg = error_of(load_model, tmp_path / "empty")
    assert "config.json" in msg and "not found" in msg


def test_invalid_json_reports_line_and_column(good):
    (good / "config.json").write_text('{\n  "hidden_size": 32,\n  "vocab_size": ,\n}')
    msg = error_of(load_model, good)
    assert "config.json" in msg and "line 3 column 17" in msg


def test_malformed_config_values(good):
    (good / "config.json").write_text(json.dumps(make_config("v3", hidden_size="big")))
    msg = error_of(load_model, good)
    assert "config.json" in msg and "'hidden_size'" in msg and "integer" in msg
    (good / "config.json").write_text("[1, 2]")
    assert "JSON object" in error_of(load_model, good)


def test_unknown_architecture_is_named(good):
    (good / "config.json").write_text(json.dumps(make_config("v3", architectures=["LlamaForCausalLM"])))
    msg = error_of(load_model, good)
    assert "unsupported architecture 'LlamaForCausalLM'" in msg and "DeepseekV3ForCausalLM" in msg


def test_no_weights_file(good):
    (good / "model.safetensors").unlink()
    assert "no model.safetensors or model.safetensors.index.json" in error_of(load_model, good)


def test_missing_shard(tmp_path):
    folder = write_checkpoint(tmp_path / "m", "v3", shards=2)
    (folder / "model-00002-of-00002.safetensors").unlink()
    msg = error_of(load_model, folder)
    assert "model.safetensors.index.json" in msg and "shard 'model-00002-of-00002.safetensors'" in msg
    assert "tensor '" in msg


def test_truncated_file_names_the_tensor(good):
    path = good / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    msg = error_of(load_model, good)
    assert "model.safetensors" in msg and "truncated" in msg and "tensor 'model." in msg
    path.write_bytes(b"\x10\x00")
    assert "truncated" in error_of(load_model, good)


def test_malformed_header(good):
    path = good / "model.safetensors"
    raw = path.read_bytes()
    path.write_bytes(raw[:8] + b"{not json" + raw[17:])
    assert "malformed safetensors header" in error_of(load_model, good)


def test_wrong_shape_names_file_tensor_and_shapes(good):
    def edit(h):
        h["model.norm.weight"]["shape"] = [2, 16]
    rewrite_header(good / "model.safetensors", edit)
    msg = error_of(load_model, good)
    assert "model.safetensors" in msg and "'model.norm.weight'" in msg
    assert "(2, 16)" in msg and "expected (32,)" in msg


def test_missing_tensor(good):
    def edit(h):
        h["model.layers.2.mlp.experts.5.up_proj.weightX"] = h.pop("model.layers.2.mlp.experts.5.up_proj.weight")
    rewrite_header(good / "model.safetensors", edit)
    msg = error_of(load_model, good)
    assert "model.safetensors" in msg and "missing tensor 'model.layers.2.mlp.experts.5.up_proj.weight'" in msg


def test_unsupported_dtype(good):
    def edit(h):
        h["model.layers.0.self_attn.o_proj.weight"]["dtype"] = "I32"
    rewrite_header(good / "model.safetensors", edit)
    msg = error_of(load_model, good)
    assert "'model.layers.0.self_attn.o_proj.weight'" in msg and "unsupported dtype I32" in msg


def test_unsupported_rope_type(good):
    cfg = make_config("v3", rope_scaling={"type": "longrope", "factor": 2.0})
    (good / "config.json").write_text(json.dumps(cfg))
    assert "unsupported rope type 'longrope'" in error_of(load_model, good)


def test_builtin_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "builtin_model_path", lambda: tmp_path / "builtin")
    assert "built-in model is not installed" in error_of(load_model, None)


def test_bad_requests(good):
    model = load_model(good)
    assert "out of range" in error_of(model.logits, [1, 96])
    assert "non-empty" in error_of(model.logits, [])
    assert "integers" in error_of(model.logits, [1.5, 2.0])
    assert "max_new_tokens" in error_of(model.stream, [1, 2], -1)
    assert "temperature" in error_of(SamplingParams, temperature=-1)
    assert "top_p" in error_of(SamplingParams, top_p=0)
    # stop strings need a tokenizer; this folder has none
    assert "tokenizer" in error_of(model.stream, [1, 2], 4, SamplingParams(stop_strings=("x",)))
    assert "fold" in error_of(load_model, good, fold="sometimes")
    assert np.isfinite(model.logits([1, 2])).all()

"""FP8 / FP4 weights as DeepSeek releases them: decoders, the released layouts, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from console.engine import EngineError, load_model
from console.engine import quant

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v4"


def test_e4m3_table_has_the_format_values():
    raw = np.array([0x00, 0x38, 0x40, 0x7E, 0xFE, 0x01, 0x08, 0xB8, 0x7F], np.uint8)
    got = quant.e4m3_to_float32(raw)
    assert got[:8].tolist() == [0.0, 1.0, 2.0, 448.0, -448.0, 2.0 ** -9, 2.0 ** -6, -1.0]
    assert np.isnan(got[8])


def test_ue8m0_and_e2m1_decoders():
    assert quant.ue8m0_to_float32(np.array([127, 130, 120], np.uint8)).tolist() == [1.0, 8.0, 2.0 ** -7]
    packed = np.array([[0x21, 0xF7]], np.uint8)        # low nibble first: 0.5, 1.0, 6.0, -6.0
    assert quant.e2m1_unpack(packed).tolist() == [[0.5, 1.0, 6.0, -6.0]]


def test_ragged_fp8_blocks_follow_deepseeks_ceil_grid():
    rng = np.random.default_rng(0)
    q = rng.integers(0, 0x7E, (200, 130)).astype(np.uint8)
    scale = rng.random((2, 2)).astype(np.float32)
    got = quant.dequantize_fp8(q, scale)
    table = quant.e4m3_to_float32(np.arange(256, dtype=np.uint8))
    for r, c in [(0, 0), (127, 129), (128, 0), (199, 129), (150, 5)]:
        assert got[r, c] == table[q[r, c]] * scale[r // 128, c // 128]


@pytest.mark.parametrize("case", ["v4_fp8_fp4_released", "v3_fp8_released"])
def test_dequantised_weights_equal_transformers_dequantisation(case):
    model = load_model(FIXTURES / case)
    with np.load(FIXTURES / case / "expected.npz") as npz:
        picks = {k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith("dequantised/")}
    assert picks
    for name, expected in picks.items():
        stored = model._ckpt.dtype(name)
        assert stored in ("F8_E4M3", "I8"), name
        assert np.array_equal(model._ckpt.float32(name), expected), name
    if case.startswith("v4"):
        assert any(model._ckpt.dtype(n) == "I8" for n in picks)          # an FP4 expert among them


def test_quantised_bytes_stay_unread_until_a_layer_is_prepared(monkeypatch):
    calls = []
    for fn in ("dequantize_fp8", "dequantize_fp4"):
        real = getattr(quant, fn)
        monkeypatch.setattr(quant, fn, lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k))
    model = load_model(FIXTURES / "v4_fp8_fp4_released")
    assert calls == []
    model.layer(0)
    assert len(calls) > 10


def _copy(tmp_path, case="v4_fp8_fp4_released") -> Path:
    folder = tmp_path / case
    shutil.copytree(FIXTURES / case, folder)
    return folder


def _rewrite_header(path: Path, edit) -> None:
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n:])


def test_gptq_style_tensors_are_refused_naming_file_and_tensor(tmp_path):
    folder = _copy(tmp_path)

    def rename(h):
        entry = h.pop("layers.0.attn.wq_a.weight")
        entry["dtype"] = "I8"
        h["layers.0.attn.wq_a.qweight"] = entry
    _rewrite_header(folder / "model.safetensors", rename)
    with pytest.raises(EngineError) as err:
        load_model(folder)
    msg = str(err.value)
    assert "model.safetensors" in msg and "layers.0.attn.wq_a.qweight" in msg and "GPTQ" in msg
    assert "\n" not in msg


def test_a_quantisation_method_we_cannot_read_is_refused(tmp_path):
    folder = _copy(tmp_path, "v3_fp8_released")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "awq", "bits": 4}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(EngineError, match=r"config.json: quantization method 'awq' is not supported"):
        load_model(folder)


def test_fp8_without_scales_and_wrong_scale_grids_are_refused(tmp_path):
    folder = _copy(tmp_path)
    _rewrite_header(folder / "model.safetensors",
                    lambda h: h.__setitem__("layers.0.attn.wq_b.scal", h.pop("layers.0.attn.wq_b.scale")))
    with pytest.raises(EngineError, match=r"'layers.0.attn.wq_b.weight' has unsupported dtype F8_E4M3 without a block-scale"):
        load_model(folder)
    folder = _copy(tmp_path / "b")

    def grid(h):
        e = h["layers.0.ffn.experts.0.w1.scale"]
        e["shape"] = [e["shape"][1], e["shape"][0]]
    _rewrite_header(folder / "model.safetensors", grid)
    with pytest.raises(EngineError, match=r"scale tensor 'layers.0.ffn.experts.0.w1.scale'"):
        load_model(folder)

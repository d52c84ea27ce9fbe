"""Hostile checkpoint folders: a sharded index may not reach outside its folder, and safetensors
headers are validated as the ``safetensors`` library validates them. Each refusal is one line
naming the file (and the tensor where there is one)."""

from __future__ import annotations

import json
import os

import pytest

from console.engine import EngineError, load_model
from console.engine.safetensors import SafetensorsFile, save_file

from .checkpoints import write_checkpoint


def error_of(path) -> str:
    with pytest.raises(EngineError) as err:
        load_model(path)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


@pytest.fixture
def sharded(tmp_path):
    return write_checkpoint(tmp_path / "sharded", "v3", shards=2)


def _point_index(folder, target: str) -> None:
    path = folder / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    name = sorted(index["weight_map"])[0]
    index["weight_map"][name] = target
    path.write_text(json.dumps(index))


@pytest.mark.parametrize("target", ["../../../../etc/passwd", "/etc/passwd", "sub/../../x.safetensors", ""])
def test_index_paths_leaving_the_folder_are_refused(sharded, target):
    _point_index(sharded, target)
    msg = error_of(sharded)
    assert "model.safetensors.index.json" in msg and "leaves the checkpoint folder" in msg


def test_index_symlink_out_of_the_folder_is_refused(sharded, tmp_path):
    outside = tmp_path / "outside.safetensors"
    first = sorted(p for p in sharded.iterdir() if p.suffix == ".safetensors")[0]
    outside.write_bytes(first.read_bytes())
    os.symlink(outside, sharded / "link.safetensors")
    _point_index(sharded, "link.safetensors")
    assert "resolves outside the checkpoint folder" in error_of(sharded)


def test_symlink_inside_the_folder_is_fine(sharded):
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    shard = sorted(set(index["weight_map"].values()))[0]
    os.symlink(sharded / shard, sharded / "alias.safetensors")
    index["weight_map"] = {k: ("alias.safetensors" if v == shard else v) for k, v in index["weight_map"].items()}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    load_model(sharded)


def _file(tmp_path, edit=None, tail=b""):
    import numpy as np
    path = tmp_path / "t.safetensors"
    save_file(path, {"a": np.ones((2, 3)), "b": np.zeros((4,)), "c": np.ones((1, 2))})
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    if edit:
        edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:] + tail)
    return path


def _refused(path) -> str:
    with pytest.raises(EngineError) as err:
        SafetensorsFile(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    return str(err.value)


def test_a_valid_file_opens(tmp_path):
    assert sorted(SafetensorsFile(_file(tmp_path)).tensors) == ["a", "b", "c"]


def test_overlapping_offsets_are_refused(tmp_path):
    def overlap(h):
        h["b"]["data_offsets"] = [h["a"]["data_offsets"][0] + 8, h["a"]["data_offsets"][0] + 24]
    assert "overlaps" in _refused(_file(tmp_path, overlap))


def test_out_of_order_offsets_with_a_gap_are_refused(tmp_path):
    def gap(h):
        h["a"]["data_offsets"] = [h["a"]["data_offsets"][0] + 4, h["a"]["data_offsets"][1] + 4]
    msg = _refused(_file(tmp_path, gap))
    assert "gap" in msg or "overlaps" in msg or "truncated" in msg


def test_trailing_bytes_not_covered_by_the_header_are_refused(tmp_path):
    assert "cover" in _refused(_file(tmp_path, tail=b"\0" * 16))


def test_size_must_match_dtype_and_shape(tmp_path):
    msg = _refused(_file(tmp_path, lambda h: h["a"].__setitem__("shape", [2, 4])))
    assert "tensor 'a'" in msg and "needs" in msg


def test_unknown_dtype_and_negative_shape_are_refused(tmp_path):
    assert "unknown dtype" in _refused(_file(tmp_path, lambda h: h["a"].__setitem__("dtype", "Q4_K")))
    assert "negative" in _refused(_file(tmp_path / "n", lambda h: h["b"].__setitem__("shape", [-4])) if
                                  (tmp_path / "n").mkdir() is None else None)


def test_header_length_limits(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes((200_000_000).to_bytes(8, "little") + b"{}")
    assert "limit" in _refused(path)
    path.write_bytes((4).to_bytes(8, "little") + b"[1] ")
    assert "does not start with" in _refused(path)

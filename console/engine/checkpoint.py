"""A Hugging Face checkpoint folder's tensors: ``model.safetensors`` or a sharded index.

:class:`Checkpoint` opens every shard's header (fast; data is memory-mapped, not read), maps
tensor names to shards, and hands out float32 arrays with their shape checked. All failures are
one-line :class:`EngineError`s naming the file and the tensor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import EngineError
from .safetensors import FLOAT_DTYPES, SafetensorsFile, TensorInfo

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def read_json(path: Path) -> object:
    """Parse a JSON file; a syntax error becomes an EngineError with line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EngineError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"{path}: cannot read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


class Checkpoint:
    """The tensors of one checkpoint folder, across shards."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._where: dict[str, SafetensorsFile] = {}
        index_path = self.folder / INDEX_FILE
        single_path = self.folder / SINGLE_FILE
        if index_path.is_file():
            self._open_index(index_path)
        elif single_path.is_file():
            shard = SafetensorsFile(single_path)
            self._where = {name: shard for name in shard.tensors}
            self.files = [shard]
        else:
            raise EngineError(f"{self.folder}: no {SINGLE_FILE} or {INDEX_FILE} in the folder")

    def _open_index(self, index_path: Path) -> None:
        index = read_json(index_path)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise EngineError(f"{index_path}: no 'weight_map' object in the index")
        shards: dict[str, SafetensorsFile] = {}
        for name, fname in weight_map.items():
            if fname not in shards:
                shard_path = self.folder / str(fname)
                if not shard_path.is_file():
                    raise EngineError(f"{index_path}: shard '{fname}' (holding tensor '{name}') not found")
                shards[fname] = SafetensorsFile(shard_path)
            shard = shards[fname]
            if name not in shard.tensors:
                raise EngineError(f"{shard.path}: tensor '{name}' listed in {INDEX_FILE} is not in the shard")
            self._where[name] = shard
        self.files = list(shards.values())

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def names(self) -> list[str]:
        return list(self._where)

    def info(self, name: str) -> TensorInfo:
        """The tensor's header entry; EngineError if the checkpoint lacks it."""
        shard = self._where.get(name)
        if shard is None:
            where = self.files[0].path.name if len(self.files) == 1 else INDEX_FILE
            raise EngineError(f"{self.folder / where}: missing tensor '{name}'")
        return shard.tensors[name]

    def check(self, name: str, shape: tuple[int, ...]) -> TensorInfo:
        """Validate presence, dtype and shape of a tensor without reading its data."""
        info = self.info(name)
        if info.dtype not in FLOAT_DTYPES:
            raise EngineError(
                f"{info.file}: tensor '{name}' has unsupported dtype {info.dtype} "
                f"(supported: {', '.join(FLOAT_DTYPES)})")
        if tuple(info.shape) != tuple(shape):
            raise EngineError(
                f"{info.file}: tensor '{name}' has shape {tuple(info.shape)}, expected {tuple(shape)}")
        return info

    def float32(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The tensor as float32 (a zero-copy view for aligned float32 data; converted otherwise)."""
        if shape is not None:
            self.check(name, shape)
        else:
            self.info(name)
        return self._where[name].float32(name)

    def raw(self, name: str) -> np.ndarray:
        """Zero-copy view in the stored dtype (bfloat16 as uint16)."""
        self.info(name)
        return self._where[name].raw(name)

    def dtype(self, name: str) -> str:
        return self.info(name).dtype

    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

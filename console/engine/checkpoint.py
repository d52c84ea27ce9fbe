"""A Hugging Face checkpoint folder's tensors: ``model.safetensors`` or a sharded index.

:class:`Checkpoint` opens every shard's header (fast; data is memory-mapped, not read), maps
tensor names to shards, and hands out float32 arrays with their shape checked. All failures are
one-line :class:`EngineError`s naming the file and the tensor.

Weights may be stored as float32/bfloat16/float16, or quantised the way DeepSeek publishes them
(see ``quant``): FP8 e4m3 with a ``<name>.weight_scale_inv`` (V3) or ``<name>.scale`` (V4)
sibling holding one scale per 128x128 block, and FP4 e2m1 packed two per byte with a
``<name>.scale`` of one ue8m0 scale per 32 inputs. ``check`` and ``float32`` take the
*logical* (out, in) shape in every case; the bytes stay in the memory map until ``float32``
decodes them. Any other quantisation (GPTQ, AWQ, ...) is refused naming the file and tensor.

A sharded index may only name shard files inside the checkpoint folder: absolute paths, ``..``
and symlinks that resolve outside it are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import quant
from .errors import EngineError
from .safetensors import FLOAT_DTYPES, SafetensorsFile, TensorInfo

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
_SCALE_DTYPES = ("F32", "BF16", "F16", "F8_E8M0", "U8")
_OTHER_QUANT = (".qweight", ".qzeros", ".g_idx", ".scales", ".weight_packed", ".absmax")
SUPPORTED = "F32, BF16, F16, FP8 E4M3 with block scales, FP4 E2M1 with group scales"


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
        self._read_quantization_config()

    def _read_quantization_config(self) -> None:
        """Honour config.json's ``quantization_config``: FP8 block size, and a clear refusal of
        methods whose tensors this engine cannot decode."""
        path = self.folder / "config.json"
        raw = read_json(path) if path.is_file() else {}
        q = raw.get("quantization_config") if isinstance(raw, dict) else None
        if not isinstance(q, dict):
            return
        method = str(q.get("quant_method", "fp8")).lower()
        if method not in ("fp8", "fbgemm_fp8"):
            raise EngineError(f"{path}: quantization method '{method}' is not supported (supported: {SUPPORTED})")
        block = q.get("weight_block_size")
        if isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block):
            self.fp8_block = tuple(block)

    def _open_index(self, index_path: Path) -> None:
        index = read_json(index_path)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise EngineError(f"{index_path}: no 'weight_map' object in the index")
        shards: dict[str, SafetensorsFile] = {}
        for name, fname in weight_map.items():
            if fname not in shards:
                shard_path = self._shard_path(index_path, str(fname), name)
                if not shard_path.is_file():
                    raise EngineError(f"{index_path}: shard '{fname}' (holding tensor '{name}') not found")
                shards[fname] = SafetensorsFile(shard_path)
            shard = shards[fname]
            if name not in shard.tensors:
                raise EngineError(f"{shard.path}: tensor '{name}' listed in {INDEX_FILE} is not in the shard")
            self._where[name] = shard
        self.files = list(shards.values())

    def _shard_path(self, index_path: Path, fname: str, tensor: str) -> Path:
        """The shard file an index entry names, refused unless it stays inside the folder."""
        candidate = Path(fname)
        root = self.folder.resolve()
        if candidate.is_absolute() or ".." in candidate.parts or not fname:
            raise EngineError(f"{index_path}: shard path '{fname}' (for tensor '{tensor}') leaves the checkpoint folder")
        resolved = (self.folder / candidate).resolve()
        if resolved != root and root not in resolved.parents:
            raise EngineError(f"{index_path}: shard path '{fname}' (for tensor '{tensor}') resolves outside "
                              f"the checkpoint folder (a symlink?)")
        return self.folder / candidate

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def names(self) -> list[str]:
        return list(self._where)

    def info(self, name: str) -> TensorInfo:
        """The tensor's header entry; EngineError if the checkpoint lacks it."""
        shard = self._where.get(name)
        if shard is None:
            where = self.files[0].path.name if len(self.files) == 1 else INDEX_FILE
            base = name[:-len(".weight")] if name.endswith(".weight") else name
            other = next((base + s for s in _OTHER_QUANT if base + s in self._where), None)
            if other is not None:
                raise EngineError(f"{self._where[other].path}: tensor '{other}' is quantised in a format this "
                                  f"engine does not read (GPTQ/AWQ-style); supported: {SUPPORTED}")
            raise EngineError(f"{self.folder / where}: missing tensor '{name}'")
        return shard.tensors[name]

    def scale_name(self, name: str) -> str | None:
        """The block-scale tensor stored next to weight ``name``, or None."""
        base = name[:-len(".weight")] if name.endswith(".weight") else name
        for candidate in (name + "_scale_inv", base + ".scale"):
            if candidate in self._where:
                return candidate
        return None

    def logical_shape(self, name: str) -> tuple[int, ...]:
        """The tensor's shape as the model sees it (FP4 holds two values per stored byte)."""
        info = self.info(name)
        if info.dtype in ("I8", "U8") and self.scale_name(name) is not None and len(info.shape) == 2:
            return (info.shape[0], 2 * info.shape[1])
        return tuple(info.shape)

    def check(self, name: str, shape: tuple[int, ...]) -> TensorInfo:
        """Validate presence, dtype and logical shape of a tensor (and of its block scales, if
        quantised) without reading its data."""
        info = self.info(name)
        if info.dtype not in FLOAT_DTYPES:
            self._check_quantised(info)
        if self.logical_shape(name) != tuple(shape):
            raise EngineError(
                f"{info.file}: tensor '{name}' has shape {self.logical_shape(name)}, expected {tuple(shape)}")
        return info

    def _check_quantised(self, info: TensorInfo) -> None:
        name, scale = info.name, self.scale_name(info.name)
        fp8, fp4 = info.dtype == "F8_E4M3", info.dtype in ("I8", "U8")
        if not (fp8 or fp4) or scale is None or len(info.shape) != 2:
            hint = " without a block-scale tensor" if (fp8 or fp4) and scale is None else ""
            raise EngineError(f"{info.file}: tensor '{name}' has unsupported dtype {info.dtype}{hint} "
                              f"(supported: {SUPPORTED})")
        s = self.info(scale)
        rows, cols = info.shape
        expected = quant.block_grid((rows, cols), self.fp8_block) if fp8 else (rows, 2 * cols // quant.FP4_GROUP)
        if s.dtype not in _SCALE_DTYPES or tuple(s.shape) != expected or (fp4 and (2 * cols) % quant.FP4_GROUP):
            raise EngineError(f"{s.file}: scale tensor '{scale}' is {s.dtype}{list(s.shape)}, expected "
                              f"{list(expected)} float32/ue8m0 scales for '{name}'")

    @property
    def fp8_block(self) -> tuple[int, int]:
        return getattr(self, "_fp8_block", (quant.FP8_BLOCK, quant.FP8_BLOCK))

    @fp8_block.setter
    def fp8_block(self, block: tuple[int, int]) -> None:
        self._fp8_block = (int(block[0]), int(block[1]))

    def float32(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The tensor as float32: a zero-copy view for aligned float32 data; converted (bf16/f16)
        or dequantised (FP8/FP4 with their block scales) into a new array otherwise."""
        info = self.check(name, shape) if shape is not None else self.info(name)
        if info.dtype in FLOAT_DTYPES:
            return self._where[name].float32(name)
        self._check_quantised(info)
        scale_name = self.scale_name(name)
        scale = self.raw(scale_name)
        s_dtype = self.dtype(scale_name)
        scale = quant.ue8m0_to_float32(scale) if s_dtype in ("F8_E8M0", "U8") else self._where[scale_name].float32(scale_name)
        if info.dtype == "F8_E4M3":
            return quant.dequantize_fp8(self.raw(name), scale, self.fp8_block)
        return quant.dequantize_fp4(self.raw(name), scale)

    def raw(self, name: str) -> np.ndarray:
        """Zero-copy view in the stored dtype (bfloat16 as uint16)."""
        self.info(name)
        return self._where[name].raw(name)

    def dtype(self, name: str) -> str:
        return self.info(name).dtype

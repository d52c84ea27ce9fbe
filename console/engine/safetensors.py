"""Memory-mapped reader and a small writer for the safetensors format, by hand.

Format: an 8-byte little-endian header length ``n``, then ``n`` bytes of JSON mapping each tensor
name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), optionally ``"__metadata__"``, then the raw little-endian data.

Why by hand: it is ~100 lines, needs nothing beyond numpy, and lets us map the file once
(``mmap``) and hand out zero-copy ``np.frombuffer`` views, so opening a multi-GB checkpoint reads
only its header. Nothing is copied until a tensor is used; bfloat16 is widened to float32 by
``uint16 << 16`` at that point.
"""

from __future__ import annotations

import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EngineError

#: dtypes we can turn into float32 activations/weights.
FLOAT_DTYPES = ("F32", "BF16", "F16")
_ITEMSIZE = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
}
_NUMPY = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F8_E4M3": np.uint8, "F8_E8M0": np.uint8,
          "U8": np.uint8, "I8": np.int8, "I32": np.int32, "I64": np.int64}
#: The ``safetensors`` library's cap on the JSON header (``MAX_HEADER_SIZE``, 100 MB).
MAX_HEADER = 100_000_000


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: its file, stored dtype, shape and absolute byte range."""

    file: Path
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


class SafetensorsFile:
    """One ``.safetensors`` file: header parsed and validated at open, data memory-mapped.

    Raises :class:`EngineError` for a missing, truncated or malformed file; the check that every
    tensor's byte range lies inside the file is done here, so a truncated download is reported
    at load time with the first tensor that does not fit.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head = fh.read(8)
                if len(head) < 8:
                    raise EngineError(f"{self.path}: truncated safetensors file ({size} bytes, no header)")
                n = int.from_bytes(head, "little")
                if n > MAX_HEADER:
                    raise EngineError(f"{self.path}: safetensors header length {n} is over the {MAX_HEADER}-byte limit")
                if 8 + n > size:
                    raise EngineError(
                        f"{self.path}: truncated safetensors file (header of {n} bytes but file has {size})")
                raw = fh.read(n)
                self._mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except FileNotFoundError:
            raise EngineError(f"{self.path}: file not found") from None
        except IsADirectoryError:
            raise EngineError(f"{self.path}: is a directory, expected a .safetensors file") from None
        except PermissionError:
            raise EngineError(f"{self.path}: permission denied") from None
        if not raw.startswith(b"{"):
            raise EngineError(f"{self.path}: malformed safetensors header (does not start with '{{')")
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EngineError(f"{self.path}: malformed safetensors header ({exc})") from None
        if not isinstance(header, dict):
            raise EngineError(f"{self.path}: malformed safetensors header (not a JSON object)")
        self.metadata = header.pop("__metadata__", None) or {}
        data_start = 8 + n
        self.size = size
        self.tensors: dict[str, TensorInfo] = {}
        for name, entry in header.items():
            self.tensors[name] = self._parse_entry(name, entry, data_start, size)
        self._check_layout(data_start, size)

    def _check_layout(self, data_start: int, size: int) -> None:
        """As the ``safetensors`` library validates: the tensors' byte ranges, in offset order,
        start at 0, follow each other with no gap or overlap, and end exactly at the file's end."""
        expected = data_start
        for info in sorted(self.tensors.values(), key=lambda t: (t.begin, t.end)):
            if info.begin != expected:
                what = "overlaps the previous tensor" if info.begin < expected else "leaves a gap before it"
                raise EngineError(
                    f"{self.path}: tensor '{info.name}' data_offsets start at {info.begin - data_start}, "
                    f"expected {expected - data_start} ({what})")
            expected = info.end
        if expected != size:
            raise EngineError(
                f"{self.path}: the header's tensors cover {expected - data_start} bytes of data "
                f"but the file holds {size - data_start}")

    def _parse_entry(self, name: str, entry: object, data_start: int, size: int) -> TensorInfo:
        try:
            dtype = str(entry["dtype"])  # type: ignore[index]
            shape = tuple(int(d) for d in entry["shape"])  # type: ignore[index]
            begin, end = (int(o) for o in entry["data_offsets"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            raise EngineError(f"{self.path}: malformed header entry for tensor '{name}'") from None
        if begin < 0 or end < begin:
            raise EngineError(f"{self.path}: tensor '{name}' has invalid data offsets [{begin}, {end}]")
        if any(d < 0 for d in shape):
            raise EngineError(f"{self.path}: tensor '{name}' has a negative dimension in shape {list(shape)}")
        item = _ITEMSIZE.get(dtype)
        if item is None:
            raise EngineError(f"{self.path}: tensor '{name}' has unknown dtype '{dtype}'")
        needed = item * int(np.prod(shape, dtype=object))
        if (end - begin) != needed:
            raise EngineError(
                f"{self.path}: tensor '{name}' has {end - begin} bytes of data but {dtype}{list(shape)} needs "
                f"{needed}")
        if data_start + end > size:
            raise EngineError(
                f"{self.path}: truncated: tensor '{name}' needs bytes up to {data_start + end} "
                f"but the file has {size}")
        return TensorInfo(self.path, name, dtype, shape, data_start + begin, data_start + end)

    def raw(self, name: str) -> np.ndarray:
        """Zero-copy read-only view of a tensor in its stored dtype (bfloat16 as uint16)."""
        info = self.tensors[name]
        if info.dtype not in _NUMPY:
            raise EngineError(
                f"{self.path}: tensor '{name}' has unsupported dtype {info.dtype} "
                f"(supported: {', '.join(FLOAT_DTYPES)}, and FP8/FP4 weights with block scales)")
        dt = np.dtype(_NUMPY[info.dtype]).newbyteorder("<")
        count = (info.end - info.begin) // dt.itemsize
        if count == 0:
            return np.zeros(info.shape, dtype=dt)
        return np.frombuffer(self._mmap, dtype=dt, count=count, offset=info.begin).reshape(info.shape)

    def float32(self, name: str) -> np.ndarray:
        """The tensor as float32.

        A float32 tensor whose data is 4-byte aligned comes back as a read-only view of the map
        (no copy); bfloat16 and float16 are converted (a copy, made now).
        """
        return to_float32(self.raw(name), self.tensors[name].dtype)


def to_float32(arr: np.ndarray, dtype: str) -> np.ndarray:
    """Widen a stored array (F32/F16, or BF16 held as uint16) to native float32."""
    if dtype == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"to_float32: {dtype} is not a float dtype")
    if dtype == "F32" and arr.dtype.isnative and arr.ctypes.data % 4 == 0:
        return arr
    return arr.astype(np.float32)


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest, ties to even) and return the raw uint16 bits."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((u >> 16) & 1) + np.uint32(0x7FFF)
    return ((u + rounding) >> 16).astype(np.uint16)


def save_file(path: str | os.PathLike, tensors: dict[str, np.ndarray], dtype: str = "F32",
              metadata: dict[str, str] | None = None, dtypes: dict[str, str] | None = None) -> None:
    """Write ``tensors`` as a safetensors file.

    ``dtype`` (F32, F16 or BF16) is the storage dtype for every tensor unless ``dtypes`` names a
    different one for a tensor. Inputs are converted from whatever float array they are.
    """
    header: dict[str, object] = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        kind = (dtypes or {}).get(name, dtype)
        arr = np.asarray(tensors[name])
        if kind == "BF16":
            data = float32_to_bf16_bits(arr).tobytes()
        elif kind in ("F32", "F16"):
            data = np.ascontiguousarray(arr, dtype="<f4" if kind == "F32" else "<f2").tobytes()
        else:
            raise ValueError(f"save_file: unsupported dtype {kind}")
        header[name] = {"dtype": kind, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little"))
        fh.write(text)
        for blob in blobs:
            fh.write(blob)

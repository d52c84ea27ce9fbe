"""Decoders for the quantised weight formats DeepSeek publishes, into float32.

* **FP8 e4m3** (``F8_E4M3``: 1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no
  infinities, ``S.1111.111`` = NaN) with one scale per 128x128 block of the (out, in) matrix:
  DeepSeek-V3 ships the scale as float32 ``<name>.weight_scale_inv`` and V4 as ue8m0
  ``<name>.scale``; either way ``w = q * scale`` per block (ragged edge blocks allowed, as
  DeepSeek's ceil-divided grid).
* **FP4 e2m1** (V4's routed experts): two 4-bit codes per byte (the even element in the low
  nibble), stored as ``I8``/``U8`` of shape (out, in / 2), with one ue8m0 scale per 32 inputs,
  ``<name>.scale`` of shape (out, in / 32).
* **ue8m0** (``F8_E8M0`` or a raw ``U8``): an exponent-only byte, ``2 ** (b - 127)``; 255 = NaN.

Every decoder is a table lookup (256 or 16 entries) plus a broadcast multiply: no per-element
Python. Decoding costs 4 bytes of float32 per weight where the file holds 1 (FP8) or
0.53 (FP4 + scales); the engine does it once, when a layer is prepared.
"""

from __future__ import annotations

import numpy as np

FP8_BLOCK = 128
FP4_GROUP = 32


def _e4m3_table() -> np.ndarray:
    b = np.arange(256)
    sign = np.where(b & 0x80, -1.0, 1.0)
    exp, man = (b >> 3) & 0xF, b & 0x7
    value = np.where(exp == 0, man / 8.0 * 2.0 ** -6, (1.0 + man / 8.0) * 2.0 ** (exp - 7.0))
    value = np.where((b & 0x7F) == 0x7F, np.nan, value)
    return (sign * value).astype(np.float32)


_E4M3 = _e4m3_table()
_E8M0 = np.where(np.arange(256) == 255, np.nan, 2.0 ** (np.arange(256) - 127.0)).astype(np.float32)
_E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                  -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0], np.float32)


def e4m3_to_float32(raw: np.ndarray) -> np.ndarray:
    """FP8 e4m3 bytes (uint8 view) -> float32 of the same shape."""
    return _E4M3[raw.view(np.uint8)]


def ue8m0_to_float32(raw: np.ndarray) -> np.ndarray:
    """Exponent-only scale bytes -> float32 powers of two."""
    return _E8M0[raw.view(np.uint8)]


def e2m1_unpack(packed: np.ndarray) -> np.ndarray:
    """(rows, cols / 2) bytes of packed FP4 codes -> (rows, cols) float32 (low nibble first)."""
    u = packed.view(np.uint8)
    out = np.empty((*u.shape[:-1], 2 * u.shape[-1]), np.float32)
    out[..., 0::2] = _E2M1[u & 0xF]
    out[..., 1::2] = _E2M1[u >> 4]
    return out


def block_grid(shape: tuple[int, int], block: tuple[int, int] = (FP8_BLOCK, FP8_BLOCK)) -> tuple[int, int]:
    """Shape of the scale grid of a block-quantised (out, in) matrix (ceil division)."""
    return -(-shape[0] // block[0]), -(-shape[1] // block[1])


def dequantize_fp8(weight: np.ndarray, scale: np.ndarray,
                   block: tuple[int, int] = (FP8_BLOCK, FP8_BLOCK)) -> np.ndarray:
    """FP8 e4m3 (out, in) bytes times their per-block float32 ``scale`` -> float32 (out, in)."""
    w = e4m3_to_float32(weight)
    rows, cols = w.shape
    s = np.repeat(np.repeat(scale.astype(np.float32), block[0], axis=0), block[1], axis=1)
    w *= s[:rows, :cols]
    return w


def dequantize_fp4(packed: np.ndarray, scale: np.ndarray, group: int = FP4_GROUP) -> np.ndarray:
    """Packed FP4 e2m1 (out, in / 2) times one float32 scale per ``group`` inputs -> (out, in)."""
    w = e2m1_unpack(packed)
    rows, cols = w.shape
    w.reshape(rows, cols // group, group)[...] *= scale.astype(np.float32)[:, :, None]
    return w

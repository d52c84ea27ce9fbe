"""The DeepSeek-V4 decode cache: per layer only what V4 attends to.

Per layer: a ring of the last ``sliding_window`` keys (= values: V4's one shared KV head, roped)
with their positions; for compressed layers (HCA / CSA) the compressed entries so far plus the
open window's state (its projected rows, fewer than ``ratio``; for CSA's overlapping windows also
the previous window's first-half channels); for CSA layers the same again for the Lightning
Indexer's own compressor (its keys, ``index_head_dim`` wide). So the memory per token falls to
``head_dim / ratio`` (+ ``index_head_dim / 4`` on CSA layers) floats past the window, which is
what ``nbytes_used`` and ``V4Model.kv_bytes_at`` report (the open window's rows and the ring
count as held once written; buffers are allocated at full size). Entries grow by doubling.
A V4 cache has no ``fork``: the generation loop then does not reuse prefixes for V4.
"""

from __future__ import annotations

import numpy as np


class CompressorState:
    """One compressor's running state for one sequence. Invariant: ``filled == length % ratio``,
    the projected rows ``[kv | gate logits]`` of the window still open."""

    def __init__(self, ratio: int, width: int, dim: int, overlap: bool) -> None:
        self.open_rows = np.zeros((ratio, 2 * width), np.float32)
        self.filled = 0
        self.prev_kv: np.ndarray | None = None               # CSA: previous window's first halves
        self.prev_score: np.ndarray | None = None
        self.entries = np.empty((8, dim), np.float32)
        self.count = 0
        self.overlap = overlap

    def append(self, rows: np.ndarray) -> None:
        need = self.count + rows.shape[0]
        if need > self.entries.shape[0]:
            grown = np.empty((max(need, 2 * self.entries.shape[0]), self.entries.shape[1]), np.float32)
            grown[:self.count] = self.entries[:self.count]
            self.entries = grown
        self.entries[self.count:need] = rows
        self.count = need

    def view(self) -> np.ndarray:
        return self.entries[:self.count]

    def nbytes(self) -> int:
        prev = 0 if self.prev_kv is None else self.prev_kv.nbytes + self.prev_score.nbytes
        return (self.count * self.entries.shape[1] + self.filled * self.open_rows.shape[1]) * 4 + prev


class LayerState:
    def __init__(self, window: int, head_dim: int) -> None:
        self.ring = np.zeros((window, head_dim), np.float32)
        self.ring_pos = np.full(window, -1, np.int64)
        self.compressor: CompressorState | None = None
        self.indexer: CompressorState | None = None

    def write_window(self, kv: np.ndarray, positions: np.ndarray) -> None:
        """Keep the last ``window`` of these rows (positions ascending) in the ring."""
        w = self.ring.shape[0]
        kv, positions = kv[-w:], positions[-w:]
        slots = positions % w
        self.ring[slots] = kv
        self.ring_pos[slots] = positions

    def write_one(self, kv: np.ndarray, position: int) -> None:
        """:meth:`write_window` of one key (kv (dim,))."""
        slot = position % self.ring.shape[0]
        self.ring[slot], self.ring_pos[slot] = kv, position

    def window_keys(self, position: int) -> np.ndarray:
        """Once the key at ``position`` is written: the ring rows a query there sees (its window;
        slot order, which attention does not depend on)."""
        return self.ring[:min(position + 1, self.ring.shape[0])]

    def nbytes(self) -> int:
        held = int((self.ring_pos >= 0).sum()) * self.ring.shape[1] * 4
        for state in (self.compressor, self.indexer):
            if state is not None:
                held += state.nbytes()
        return held


class V4Cache:
    """A sequence's V4 cache (``length`` tokens held)."""

    def __init__(self, layers: list[LayerState]) -> None:
        self.layers = layers
        self.length = 0

    def advance(self, n: int) -> None:
        self.length += n

    def nbytes_used(self) -> int:
        return sum(layer.nbytes() for layer in self.layers)

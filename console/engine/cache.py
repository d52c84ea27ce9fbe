"""Per-sequence caches, preallocated and grown by doubling.

:class:`LatentCache` (MLA): one row per token and layer, ``[c_KV (kv_lora_rank) | k_pe
(qk_rope_head_dim)]`` -- the latent is stored after ``kv_a_layernorm``, the rope key after rotation.
:class:`KVCache` (GQA): keys and values per KV head. A decode step calls ``reserve(length + 1)``,
then each layer ``append``s its row at index ``length``, then ``advance(1)``. A prefill writes
its rows from index ``length`` on (continuing whatever the cache holds).

``fork(n)`` returns a new cache holding a copy of the first ``n`` tokens (prefix reuse: the
copy is continued by another sequence while the original stays intact); ``nbytes_held()`` is
the memory the cache occupies (its capacity), ``nbytes_used()`` what its tokens need.

Batched decode (:func:`latent_batch`): the latent caches of one decode batch live as slots of
ONE zero-padded array (B, layers, capacity, width), so attention reads every sequence's keys
with one batched matmul instead of a loop over sequences. Each member's ``data`` is then a view
of its slot; the arena is rebuilt (one copy of the tokens held) only when the batch changes or a
member outgrows it. A cache that leaves the batch for good calls ``detach()``, which gives it an
array of its own again (so a cached prefix never keeps a whole arena alive).
"""

from __future__ import annotations

import numpy as np


class LatentCache:
    def __init__(self, layers: int, width: int, capacity: int = 64) -> None:
        self.data = np.empty((layers, max(capacity, 1), width), np.float32)
        self.length = 0
        self.arena: LatentArena | None = None     # set while the cache is a slot of an arena
        self.slot = -1

    @property
    def capacity(self) -> int:
        return self.data.shape[1]

    def reserve(self, n: int) -> None:
        if n > self.capacity:
            cap = self.capacity
            while cap < n:
                cap *= 2
            grown = np.empty((self.data.shape[0], cap, self.data.shape[2]), np.float32)
            grown[:, :self.length] = self.data[:, :self.length]
            self.data, self.arena = grown, None

    def detach(self) -> None:
        """Leave the arena (if in one): keep a copy of the tokens held in an array of its own,
        sized to them (the cache is done growing: it goes to the prefix cache)."""
        if self.arena is not None:
            own = np.empty((self.data.shape[0], max(self.length, 1), self.data.shape[2]), np.float32)
            own[:, :self.length] = self.data[:, :self.length]
            self.data, self.arena, self.slot = own, None, -1

    def write(self, layer: int, start: int, rows: np.ndarray) -> None:
        self.data[layer, start:start + rows.shape[0]] = rows

    def append(self, layer: int, row: np.ndarray) -> np.ndarray:
        """Store ``row`` at index ``length`` of ``layer``; return the layer's (capacity, width) array."""
        data = self.data[layer]
        data[self.length] = row
        return data

    def advance(self, n: int) -> None:
        self.length += n

    def nbytes_used(self) -> int:
        return self.length * self.data.shape[0] * self.data.shape[2] * 4

    def nbytes_held(self) -> int:
        return self.data.nbytes

    def fork(self, n: int) -> "LatentCache":
        """A new cache holding a copy of the first ``n`` tokens (0 <= n <= length)."""
        n = _fork_length(n, self.length)
        L, _, width = self.data.shape
        twin = LatentCache(L, width, capacity=max(n + 1, 64))
        twin.data[:, :n] = self.data[:, :n]
        twin.length = n
        return twin


class LatentArena:
    """The latent caches of one decode batch as the slots of one array ``data`` (B, layers,
    capacity, width), zero beyond each member's tokens (see the module doc). Building it copies
    every member's tokens in and makes ``cache.data`` a view of its slot."""

    def __init__(self, caches: list[LatentCache]) -> None:
        layers, _, width = caches[0].data.shape
        capacity = max(c.capacity for c in caches)
        self.data = np.zeros((len(caches), layers, capacity, width), np.float32)
        for slot, cache in enumerate(caches):
            self.data[slot, :, :cache.length] = cache.data[:, :cache.length]
            cache.data, cache.arena, cache.slot = self.data[slot], self, slot

    def holds(self, caches: list[LatentCache]) -> bool:
        """True when ``caches`` are exactly this arena's members, in slot order."""
        return len(caches) == self.data.shape[0] and all(
            c.arena is self and c.slot == slot for slot, c in enumerate(caches))


def latent_batch(caches: list[LatentCache]) -> np.ndarray:
    """The (B, layers, capacity, width) array whose slot ``b`` is ``caches[b].data`` (rows past a
    member's tokens are zero or rows of a step that did not complete: finite, and masked by the
    caller); builds a new arena when ``caches`` are not already one, in this order."""
    arena = caches[0].arena
    if arena is None or not arena.holds(caches):
        arena = LatentArena(caches)
    return arena.data


class KVCache:
    def __init__(self, layers: int, kv_heads: int, head_dim: int, capacity: int = 64) -> None:
        self.data = np.empty((layers, 2, kv_heads, max(capacity, 1), head_dim), np.float32)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.data.shape[3]

    def reserve(self, n: int) -> None:
        if n > self.capacity:
            cap = self.capacity
            while cap < n:
                cap *= 2
            L, _, kv, _, hd = self.data.shape
            grown = np.empty((L, 2, kv, cap, hd), np.float32)
            grown[:, :, :, :self.length] = self.data[:, :, :, :self.length]
            self.data = grown

    def write(self, layer: int, start: int, k: np.ndarray, v: np.ndarray) -> None:
        """k, v: (T, kv_heads, head_dim)."""
        T = k.shape[0]
        self.data[layer, 0, :, start:start + T] = k.transpose(1, 0, 2)
        self.data[layer, 1, :, start:start + T] = v.transpose(1, 0, 2)

    def append(self, layer: int, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Store one token's k, v (kv_heads, head_dim); return the layer's (2, kv, capacity, hd) array."""
        data = self.data[layer]
        data[0, :, self.length] = k
        data[1, :, self.length] = v
        return data

    def advance(self, n: int) -> None:
        self.length += n

    def nbytes_used(self) -> int:
        L, _, kv, _, hd = self.data.shape
        return self.length * L * 2 * kv * hd * 4

    def nbytes_held(self) -> int:
        return self.data.nbytes

    def fork(self, n: int) -> "KVCache":
        """A new cache holding a copy of the first ``n`` tokens (0 <= n <= length)."""
        n = _fork_length(n, self.length)
        L, _, kv, _, hd = self.data.shape
        twin = KVCache(L, kv, hd, capacity=max(n + 1, 64))
        twin.data[:, :, :, :n] = self.data[:, :, :, :n]
        twin.length = n
        return twin


def _fork_length(n: int, length: int) -> int:
    n = int(n)
    if not 0 <= n <= length:
        raise ValueError(f"fork({n}) of a cache holding {length} tokens")
    return n

"""Prefix reuse: an LRU-bounded store of finished sequences' caches, keyed by their tokens.

When a sequence ends, the generation loop hands its cache and the tokens whose keys it holds
to :meth:`PrefixCache.insert`. A new request asks :meth:`PrefixCache.lookup` for the longest
stored prefix of its prompt and receives ``cache.fork(n)``: a private copy holding those ``n``
tokens, which it continues with a prefill of the rest (``Model.prefill`` continues at the
cache's length). The next turn of a chat resends the whole history, so it prefills only the
new turn. At least one prompt token is always left to prefill: its logits give the first
reply token.

Bounds: ``max_bytes`` of cache memory (``nbytes_held``); the least recently used entries go
first. An entry that is a prefix of a newly inserted one is dropped (the new one serves every
lookup it served). Caches without ``fork`` (CONTRACTS §1) are never stored. Not thread-safe:
only the loop thread calls it; the counters may be read from anywhere.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Default memory bound of the store (bytes of cached keys).
DEFAULT_PREFIX_CACHE_BYTES = 256 * 2**20


@dataclass
class _Entry:
    tokens: np.ndarray
    cache: Any
    nbytes: int


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the longest common prefix of two int arrays."""
    n = min(a.size, b.size)
    if n == 0:
        return 0
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if differ.size else n


class PrefixCache:
    """See the module doc. ``hit_tokens / query_tokens`` is the prefix-cache hit rate."""

    def __init__(self, max_bytes: int = DEFAULT_PREFIX_CACHE_BYTES) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._next_key = 0
        self.nbytes = 0
        self.query_tokens = 0      # prompt tokens looked up
        self.hit_tokens = 0        # of those, served from a stored prefix

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, prompt: np.ndarray) -> tuple[Any, int]:
        """``(fork of the best entry, n)`` for the longest stored prefix of ``prompt`` that
        leaves at least one token to prefill, or ``(None, 0)``."""
        self.query_tokens += int(prompt.size)
        best_key, best = None, 0
        for key, entry in self._entries.items():
            n = min(common_prefix(entry.tokens, prompt), prompt.size - 1)
            if n > best:
                best_key, best = key, n
        if best_key is None:
            return None, 0
        self._entries.move_to_end(best_key)
        self.hit_tokens += best
        return self._entries[best_key].cache.fork(best), best

    def insert(self, tokens: np.ndarray, cache: Any) -> bool:
        """Store ``cache`` (it must not be written to afterwards) for ``tokens``; False when
        it cannot be stored (no ``fork``, empty, or bigger than the whole bound)."""
        held = getattr(cache, "nbytes_held", None)
        nbytes = int(held()) if callable(held) else int(cache.nbytes_used())
        if not hasattr(cache, "fork") or tokens.size == 0 or nbytes > self.max_bytes:
            return False
        for key in [k for k, e in self._entries.items() if common_prefix(e.tokens, tokens) == e.tokens.size]:
            self._drop(key)
        self._entries[self._next_key] = _Entry(np.array(tokens, np.int64), cache, nbytes)
        self._next_key += 1
        self.nbytes += nbytes
        while self.nbytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def clear(self) -> None:
        for key in list(self._entries):
            self._drop(key)

    def _drop(self, key: int) -> None:
        self.nbytes -= self._entries.pop(key).nbytes

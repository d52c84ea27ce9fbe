"""Stop strings over a token stream, holding back tokens that may begin a stop string.

Tokens are released as soon as their text cannot be part of a stop string; when a stop string
appears, generation stops and the tokens whose text overlaps it are dropped (a token whose text
straddles the start of the stop string is dropped whole: tokens cannot be split).
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class StopStringMatcher(Generic[T]):
    def __init__(self, stop_strings: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stop_strings if s)
        self.pending: list[tuple[T, int]] = []   # (item, end offset of its text in self.text)
        self.text = ""
        self.stopped = False

    def _hold_from(self) -> int:
        """Earliest offset in the pending text where a stop string could still start."""
        text = self.text
        for q in range(max(0, len(text) - max(len(s) for s in self.stops) + 1), len(text)):
            tail = text[q:]
            if any(s.startswith(tail) for s in self.stops):
                return q
        return len(text)

    def push(self, item: T, piece: str) -> list[T]:
        """Add one token's text; return the items that can now be released, in order."""
        self.text += piece
        self.pending.append((item, len(self.text)))
        hits = [i for i in (self.text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            cut = min(hits)
        else:
            cut = self._hold_from()
        released = [it for it, end in self.pending if end <= cut]
        if self.stopped:
            self.pending = []
            return released
        self.pending = [(it, end) for it, end in self.pending if end > cut]
        self.text = self.text[cut:]
        self.pending = [(it, end - cut) for it, end in self.pending]
        return released

    def flush(self) -> list[T]:
        """Release everything still held (generation ended for another reason)."""
        items = [it for it, _ in self.pending]
        self.pending, self.text = [], ""
        return items

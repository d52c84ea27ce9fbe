"""Turn generated token ids into reply text: whole characters, stop strings cut.

:class:`ReplyText` wraps the tokenizer's stream decoder. ``push`` takes one
token and returns the text that can be shown now together with the token ids
that text accounts for; ids whose text is not shown yet (half a multi-byte
character, or the start of what may become a stop string) are carried into the
next chunk. Every pushed id is returned exactly once, so the ids of all chunks
add up to the completion token count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Chunk:
    text: str
    token_ids: tuple[int, ...]
    stopped: bool = False


class ReplyText:
    """Incremental reply text with stop strings removed (see module doc)."""

    def __init__(self, decoder: Any, stop_strings: tuple[str, ...] = ()) -> None:
        self._decoder = decoder
        self._stops = tuple(s for s in stop_strings if s)
        self._held = ""
        self._ids: list[int] = []
        self.stopped = False

    def push(self, token_id: int) -> Chunk:
        """Add one generated token."""
        self._ids.append(token_id)
        self._held += self._decoder.push(token_id)
        return self._release(final=False)

    def flush(self) -> Chunk:
        """End of generation: release everything still held."""
        if not self.stopped:
            self._held += self._decoder.flush()
        return self._release(final=True)

    def _release(self, *, final: bool) -> Chunk:
        if not self.stopped:
            found = [i for i in (self._held.find(s) for s in self._stops) if i >= 0]
            if found:
                self.stopped = True
                self._held = self._held[: min(found)]
        keep = 0 if (final or self.stopped) else self._longest_stop_prefix()
        text, self._held = self._held[: len(self._held) - keep], self._held[len(self._held) - keep :]
        if not (text or final or self.stopped):
            return Chunk("", ())  # nothing showable yet: the ids travel with later text
        ids, self._ids = tuple(self._ids), []
        return Chunk(text, ids, self.stopped)

    def _longest_stop_prefix(self) -> int:
        """Length of the longest tail of the held text that starts a stop string."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._held)), best, -1):
                if self._held.endswith(stop[:n]):
                    best = n
                    break
        return best

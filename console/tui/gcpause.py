"""Keep garbage-collection pauses out of a streaming reply.

A full (generation 2) collection rescans every long-lived object and, in a
process holding Textual, the plugins and the engine, stalls the event loop
for 50-250 ms: long enough to delay a keypress past 100 ms. Two measures, the
same ones Textual takes while scrolling (``App.PAUSE_GC_ON_SCROLL``):

* :func:`freeze_heap`: ``gc.freeze()`` what is alive at start and once the
  engine is loaded, so later collections skip those objects;
* :func:`paused`: the cyclic collector is off while a reply streams (memory
  is still freed by reference counting; cycles wait for the end of the reply).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

_streams = 0


def freeze_heap(*, collect: bool = False) -> None:
    """Move every object alive now out of the collector's reach (after a
    collection when ``collect``). Frozen objects are never collected, so call
    this only when what is alive is long-lived (start, engine loaded)."""
    if collect:
        gc.collect()
    gc.freeze()


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block (nests: the collector comes back
    when the last streaming reply ends, and only if it was on before)."""
    global _streams
    was_enabled = gc.isenabled() if _streams == 0 else True
    _streams += 1
    if _streams == 1:
        gc.disable()
    try:
        yield
    finally:
        _streams -= 1
        if _streams == 0 and was_enabled:
            gc.enable()

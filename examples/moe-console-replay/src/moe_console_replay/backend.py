"""The ``replay`` backend: plays back a recorded reply (see the package doc).

What it shows a plugin author:

* ``stream`` is written by hand: events, clock, limits and cancellation;
* the clock is ``measured``: the times are those at which this backend
  released each token here (read with ``console.api.TokenTimer``), not the
  recorded ones, which only pace the release. The label names the trace, so
  nobody mistakes a replay for a measurement of a model;
* ``max_tokens`` and stop strings are honoured; a token whose text reaches into
  a stop string is dropped whole and text that may begin a stop string is held
  back, as the console's engine does;
* blocking work (reading the trace file) runs in a thread;
* options are declared once (a ``path`` and a bounded ``float``) and validated
  by ``Backend.__init__``; a missing trace is refused there with a
  :class:`BackendError`, before any streaming.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

from console.api import (Backend, BackendError, BackendInfo, Capabilities, Event, Failed, Finished, Option,
                         Request, Started, TextDelta, TokenTimer, Usage)

from moe_console_replay.trace import Piece, load_trace

SAMPLE = Path(__file__).resolve().parent / "traces" / "builtin-rivers.jsonl"


class ReplayBackend(Backend):
    info = BackendInfo(
        name="replay",
        display_name="Replay of a recorded reply",
        kind="local",
        hardware="none (paced by the recording)",
        model="whatever recorded the trace",
        description="Example plugin: replays a `moe-console generate --json` trace at its recorded pace.",
    )
    capabilities = Capabilities(cancel=True)
    options = (
        Option("trace", "path", "", "a trace written by `moe-console generate --json`; empty: the bundled sample"),
        Option("speed", "float", 1.0, "replay speed: 2 releases the tokens twice as fast as recorded",
               minimum=0.1, maximum=100.0),
    )

    def __init__(self, **options):
        super().__init__(**options)  # validates every option against its declaration
        self.path = Path(self.settings["trace"]) if self.settings["trace"] else SAMPLE
        if not self.path.is_file():
            raise BackendError(f"trace {self.path}: no such file")

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        try:
            trace = await asyncio.to_thread(load_trace, self.path)
        except BackendError as exc:
            yield Failed(str(exc))
            return
        speed, s = self.settings["speed"], request.sampling
        timer = TokenTimer(label=f"measured (replay of {trace.name}, recorded on {trace.recorded_by}, "
                                 f"paced at {speed:g}x)")
        yield Started(request.request_id, self.info.name, trace.name, trace.prompt_tokens, at=timer.now())
        held: list[Piece] = []  # pieces whose text may begin a stop string
        shown, used, reason = "", 0, trace.finish_reason
        for piece in trace.pieces:
            if used + len(piece.token_ids) > s.max_tokens:
                reason = "length"
                break
            await asyncio.sleep(max(0.0, piece.t / speed - timer.now()))
            used += len(piece.token_ids)
            held.append(piece)
            pending = "".join(p.text for p in held)
            cut = min((i for i in ((shown + pending).find(stop) for stop in s.stop) if i >= 0), default=-1)
            if cut >= 0:  # drop the pieces that reach into the stop string, release the others
                while held and len(shown) + sum(len(p.text) for p in held) > cut:
                    held.pop()
                for p in held:
                    yield TextDelta(p.text, p.token_ids, at=timer.tokens(len(p.token_ids)))
                reason, held = "stop", []
                break
            while held and not _may_begin_stop(held, s.stop):
                p = held.pop(0)
                shown += p.text
                yield TextDelta(p.text, p.token_ids, at=timer.tokens(len(p.token_ids)))
        for p in held:
            yield TextDelta(p.text, p.token_ids, at=timer.tokens(len(p.token_ids)))
        timing = timer.timing()
        yield Finished(reason, Usage(trace.prompt_tokens, timer.count), timing, at=timing.e2e_s)


def _may_begin_stop(held: list[Piece], stops: tuple[str, ...]) -> bool:
    """True while the text of ``held`` ends with the beginning of a stop string,
    starting inside its first piece (that piece must then wait)."""
    text = "".join(p.text for p in held)
    first = len(held[0].text)
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]) and len(text) - n < first:
                return True
    return False

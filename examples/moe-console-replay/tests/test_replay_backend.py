"""The replay backend passes the moe-console conformance kit, and replays its trace."""

import asyncio

import pytest

from console.api import BackendError, Message, OptionError, Request, Sampling, TextDelta
from console.testing import BackendConformance, collect
from moe_console_replay.backend import SAMPLE, ReplayBackend
from moe_console_replay.trace import load_trace


class TestReplay(BackendConformance):
    backend_class = ReplayBackend
    options = {"speed": 20.0}
    cancel_max_tokens = 30


def _request(**sampling):
    return Request(messages=(Message("user", "anything"),), sampling=Sampling(**{"max_tokens": 64, **sampling}))


def test_the_whole_trace_is_replayed_with_its_ids():
    events = asyncio.run(collect(ReplayBackend(speed=50).stream(_request())))
    trace = load_trace(SAMPLE)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == "".join(p.text for p in trace.pieces)
    assert [i for d in deltas for i in d.token_ids] == [i for p in trace.pieces for i in p.token_ids]
    assert events[-1].timing.label.startswith("measured (replay of builtin-rivers.jsonl, recorded on local")


def test_a_stop_string_across_pieces_is_held_back_and_cut():
    full = "".join(p.text for p in load_trace(SAMPLE).pieces)
    stop = full[20:26]
    events = asyncio.run(collect(ReplayBackend(speed=50).stream(_request(stop=(stop,)))))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert full.startswith(text) and len(text) <= full.index(stop) and events[-1].reason == "stop"


def test_bad_options_and_a_missing_trace_are_refused_before_streaming(tmp_path):
    with pytest.raises(OptionError, match="speed"):
        ReplayBackend(speed=0)
    with pytest.raises(BackendError, match="no such file"):
        ReplayBackend(trace=str(tmp_path / "none.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event": "token", "id": 1, "text": "a", "t": 0.1}\nnot json\n')
    events = asyncio.run(collect(ReplayBackend(trace=str(bad)).stream(_request())))
    assert len(events) == 1 and events[0].error.startswith(f"trace {bad}:2: not a `moe-console generate --json`")

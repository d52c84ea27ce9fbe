"""ChatSession on the real PluginHost with scripted stand-in backends and a real SQLite file."""

from __future__ import annotations

import asyncio
import threading
import dataclasses
import sqlite3

import pytest

import core_scripted
from console.api import Failed, Finished, Message, PluginError, RoutingStats, Sampling, Started, TextDelta
from console.conversation import ChatSession, SessionBusy
from console.metrics import Metrics
from console.settings import Settings
from console.store import Store
from conftest import make_host

WORDS = "alpha beta gamma delta epsilon zeta eta theta"


def session_for(host, store, settings, clock, **kw):
    return ChatSession(host, store, settings, Metrics(clock=clock), clock=clock, **kw)


async def collect(stream):
    return [event async for event in stream]


async def stalled(name="scripted"):
    """Wait until the stand-in backend ``name`` has stalled mid-reply."""
    event = core_scripted.STALLED.setdefault(name, threading.Event())
    assert await asyncio.to_thread(event.wait, 5)  # backends stream on threads of their own


def stalling(settings, name="scripted", after=5, **more):
    opts = {**settings.backend_options, name: {"stall_after": after, **more}}
    return dataclasses.replace(settings, backend_options=opts)


async def test_send_streams_and_persists(host, store, db_path, settings, clock):
    seen = []

    def probe(request):  # runs when the backend starts: is the user turn already on disk?
        with sqlite3.connect(db_path) as db:
            seen.append(db.execute("SELECT role, content FROM messages ORDER BY id").fetchall())
    core_scripted.PROBE.append(probe)
    session = session_for(host, store, settings, clock)
    events = await collect(session.send("Explain routing"))
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == WORDS
    assert any(isinstance(e, RoutingStats) for e in events)  # want_routing from capabilities
    assert seen == [[("user", "Explain routing"), ("assistant", "")]]  # stored before the request
    conv = session.conversation
    assert conv.title == "Explain routing"
    user, reply = conv.messages
    assert (reply.role, reply.content, reply.status) == ("assistant", WORDS, "complete")
    assert (reply.backend, reply.model) == ("scripted", "script-1")
    assert reply.usage.completion_tokens == 8 and reply.timing.ttft_s == 0.25
    assert reply.timing.label == "measured"
    name, request = core_scripted.LOG["requests"][-1]
    assert request.messages == (Message("user", "Explain routing"),)
    assert request.want_routing and request.sampling == settings.sampling
    snap = session.metrics.snapshot("scripted")
    assert snap.replies == 1 and snap.ttft_s == 0.25 and snap.context_window == 2048
    assert not session.busy


async def test_partial_reply_saved_while_streaming_then_cancel_keeps_it(host, store, db_path, settings, clock):
    session = session_for(host, store, stalling(settings), clock, persist_every_tokens=2, persist_interval_s=99)
    stream = session.send("tell me")
    got = []

    async def read():
        async for event in stream:
            got.append(event)
    reader = asyncio.create_task(read())
    await stalled()
    assert session.busy
    with sqlite3.connect(db_path) as db:  # what survives if the console dies now
        row = db.execute("SELECT content, status FROM messages WHERE role = 'assistant'").fetchone()
    assert row == ("alpha beta gamma delta", "streaming")  # saved every 2 tokens
    assert session.cancel() is True
    await asyncio.wait_for(reader, 5)
    final = got[-1]
    assert isinstance(final, Finished) and final.reason == "cancelled"
    assert final.usage.completion_tokens == 5 and final.timing.label == "measured"
    reply = session.conversation.messages[-1]
    assert (reply.content, reply.status) == ("alpha beta gamma delta epsilon", "cancelled")
    assert core_scripted.LOG["closed"][-1][0] == "scripted"  # the backend's finally ran
    assert session.metrics.snapshot("scripted").status == "cancelled"
    assert session.cancel() is False


async def test_cancelling_the_reading_task_cancels_the_reply(host, store, settings, clock):
    session = session_for(host, store, stalling(settings), clock)
    stream = session.send("hi")
    reader = asyncio.create_task(collect(stream))
    await stalled()
    reader.cancel()  # what a TUI worker does on Esc
    with pytest.raises(asyncio.CancelledError):
        await reader
    await stream.wait()
    assert session.conversation.messages[-1].status == "cancelled"
    assert not session.busy


async def test_switch_backend_mid_reply(host, store, settings, clock):
    session = session_for(host, store, stalling(settings, after=3), clock)
    stream = session.send("first question")
    reader = asyncio.create_task(collect(stream))
    await stalled()
    await session.switch_backend("other")
    assert session.backend_name == "other" and not session.busy
    events = await asyncio.wait_for(reader, 5)
    assert events[-1].reason == "cancelled"
    events = await collect(session.send("second question"))
    assert events[0].backend == "other"
    conv = session.conversation
    assert [(m.role, m.backend, m.status) for m in conv.messages] == [
        ("user", None, "complete"), ("assistant", "scripted", "cancelled"),
        ("user", None, "complete"), ("assistant", "other", "complete"),
    ]
    assert conv.messages[1].content == "alpha beta gamma"
    assert conv.messages[3].content == "uno dos tres"
    assert conv.backend == "other"
    _, request = core_scripted.LOG["requests"][-1]  # the conversation went along
    assert request.messages == (Message("user", "first question"), Message("assistant", "alpha beta gamma"),
                                Message("user", "second question"))


async def test_switch_to_unknown_backend_changes_nothing(host, store, settings, clock):
    session = session_for(host, store, settings, clock)
    with pytest.raises(PluginError, match="unknown backend 'nope'"):
        await session.switch_backend("nope")
    assert session.backend_name == "scripted"


async def test_regenerate_replaces_the_last_reply(host, store, settings, clock):
    session = session_for(host, store, settings, clock)
    await collect(session.send("q"))
    first_id = session.conversation.messages[-1].id
    await session.switch_backend("other")
    await collect(session.regenerate())
    msgs = session.conversation.messages
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[-1].id != first_id and msgs[-1].content == "uno dos tres"
    (_, a), (_, b) = core_scripted.LOG["requests"]
    assert a.messages == b.messages == (Message("user", "q"),)


async def test_over_long_prompt_fails_and_keeps_the_users_text(host, store, settings, clock):
    settings = dataclasses.replace(settings, backend_options={"scripted": {"max_prompt_tokens": 5}})
    session = session_for(host, store, settings, clock)
    long_text = "word " * 40
    events = await collect(session.send(long_text))
    assert isinstance(events[-1], Failed) and "exceeds the 5-token window" in events[-1].error
    user, reply = session.conversation.messages
    assert user.content == long_text
    assert (reply.status, reply.error) == ("failed", events[-1].error)
    await collect(session.send("short one"))
    _, request = core_scripted.LOG["requests"][-1]
    assert request.messages == (Message("user", "short one"),)  # the failed turn is left out
    assert session.conversation.messages[-1].status == "complete"


async def test_backend_crash_becomes_failed_with_partial_text(host, store, settings, clock):
    settings = dataclasses.replace(settings, backend_options={"scripted": {"raise_after": 2}})
    session = session_for(host, store, settings, clock)
    events = await collect(session.send("go"))
    assert isinstance(events[-1], Failed) and "scripted crash" in events[-1].error
    reply = session.conversation.messages[-1]
    assert (reply.status, reply.content) == ("failed", "alpha beta")


async def test_conversation_survives_a_restart(host, db_path, settings, clock):
    with Store(db_path) as store:
        session = session_for(host, store, settings, clock)
        await collect(session.send("remember me"))
        conv_id = session.conversation.id
        await session.aclose()
    with Store(db_path) as store:  # a new console on the same file
        session = session_for(make_host(), store, settings, clock)
        assert [c.id for c in session.conversations()] == [conv_id]
        conv = session.select(conv_id)
        assert [m.content for m in conv.messages] == ["remember me", WORDS]
        await collect(session.send("and now?"))
        _, request = core_scripted.LOG["requests"][-1]
        assert request.messages == (Message("user", "remember me"), Message("assistant", WORDS),
                                    Message("user", "and now?"))
        await session.aclose()


async def test_system_prompt_and_sampling_reach_the_request(host, store, settings, clock):
    settings = dataclasses.replace(settings, system_prompt="Be brief.")
    session = session_for(host, store, settings, clock)
    session.new_conversation()
    session.sampling = Sampling(temperature=0.0, seed=5, max_tokens=8)
    await collect(session.send("hi"))
    _, request = core_scripted.LOG["requests"][-1]
    assert request.messages[0] == Message("system", "Be brief.")
    assert request.sampling == Sampling(temperature=0.0, seed=5, max_tokens=8)
    session.set_system_prompt("Be long.")
    conv = session.conversation
    assert conv.system_prompt == "Be long." and conv.sampling.seed == 5


async def test_busy_session_refuses_a_second_turn(host, store, settings, clock):
    session = session_for(host, store, stalling(settings), clock)
    stream = session.send("one")
    await stalled()
    with pytest.raises(SessionBusy):
        session.send("two")
    await stream.aclose()  # abandoning the stream cancels the reply and waits for it
    assert session.conversation.messages[-1].status == "cancelled"
    with pytest.raises(ValueError, match="empty"):
        session.send("   ")


async def test_compare_runs_the_turn_on_each_backend(host, store, settings, clock):
    session = session_for(host, store, settings, clock)
    await collect(session.send("q1"))
    count = len(session.conversation.messages)
    seen = []
    results = await session.compare(None, ["scripted", "modeled-x", "nope"], on_event=lambda b, e: seen.append(b))
    assert results["scripted"].text == WORDS and results["scripted"].status == "complete"
    modeled = results["modeled-x"]
    assert modeled.timing.clock == "modeled" and modeled.timing.label.startswith("modeled (calibrated")
    assert modeled.cost.usd_per_m_output == 2.0 and modeled.usage.completion_tokens == 8
    assert results["nope"].status == "failed" and "unknown backend" in results["nope"].error
    assert len(session.conversation.messages) == count  # nothing stored
    assert set(seen) == {"scripted", "modeled-x"}
    assert session.metrics.snapshot("modeled-x").labels["rate"].startswith("modeled (calibrated")
    assert session.metrics.snapshot("modeled-x").spend.conversation_usd == 0.0
    requests = core_scripted.LOG["requests"][-2:]
    assert requests[0][1].messages == requests[1][1].messages == (Message("user", "q1"),)
    concurrent = await session.compare("q2", ["scripted", "other"], concurrent=True)
    assert concurrent["other"].text == "uno dos tres"


async def test_bad_backend_options_are_problems_and_defaults_are_used(host, store, settings, clock):
    settings = dataclasses.replace(settings, backend_options={
        "modeled-x": {"price_usd_per_chip_hour": -1, "bogus": 3, "gap_s": 0.25}})
    session = session_for(host, store, settings, clock)
    assert any(p.startswith("[backends.modeled-x] price_usd_per_chip_hour = -1: must be a number >= 0; "
                            "using the default 2.0") for p in session.problems)  # at start-up
    assert any("unknown option 'bogus'" in p for p in session.problems)
    switched = await session.switch_backend("modeled-x")
    assert session.backend.settings["price_usd_per_chip_hour"] == 2.0
    assert session.backend.settings["gap_s"] == 0.25
    assert len(switched) == 2 and switched[0].startswith("[backends.modeled-x] price_usd_per_chip_hour = -1")


async def test_unknown_default_backend_falls_back_with_a_problem(host, store, clock):
    session = session_for(host, store, Settings(default_backend="h100"), clock)
    assert session.backend_name == "scripted"
    assert session.problems == ["default_backend 'h100' is not available "
                                "(known: scripted, other, modeled-x, broken); using 'scripted'"]


async def test_await_send_also_gives_the_stream_and_conversation_cost(host, store, settings, clock):
    session = session_for(host, store, dataclasses.replace(settings, default_backend="modeled-x"), clock)
    stream = await session.send("price?")
    await collect(stream)
    assert stream.status == "complete" and stream.record().cost is not None
    cost = stream.record().cost.total_usd
    assert session.metrics.snapshot().spend.conversation_usd == pytest.approx(cost)
    session.new_conversation()
    assert session.metrics.snapshot().spend.conversation_usd == 0.0
    conv_id = session.conversations()[-1].id
    session.select(conv_id)  # reopening a stored conversation restores its cost so far
    assert session.metrics.snapshot().spend.conversation_usd == pytest.approx(cost)


async def test_backend_that_cannot_start(host, store, settings, clock):
    session = session_for(host, store, settings, clock)
    with pytest.raises(PluginError, match="could not start: RuntimeError: driver libfoo.so not found"):
        await session.switch_backend("broken")
    assert session.backend_name == "scripted"
    session = session_for(host, store, dataclasses.replace(settings, default_backend="broken"), clock)
    events = await collect(session.send("hello?"))
    assert len(events) == 1 and isinstance(events[0], Failed) and "driver libfoo.so" in events[0].error
    user, reply = session.conversation.messages
    assert user.content == "hello?"  # the user's text is kept
    assert (reply.status, reply.backend) == ("failed", "broken") and "could not start" in reply.error
    assert not session.busy


async def test_a_turn_loads_the_conversation_once_not_per_access(host, store, settings, clock):
    session = session_for(host, store, settings, clock)
    await collect(session.send("warm up"))
    session.conversation  # noqa: B018 - the turn wrote: this loads it once
    store.loads = 0
    for _ in range(5):
        session.conversation  # noqa: B018 - cached: no load while nothing was written
    assert store.loads == 0
    stream = session.send("count the loads")
    await collect(stream)
    per_turn = store.loads
    assert 1 <= per_turn <= 3, per_turn  # was 4-5 per turn, each reading every message
    conv = session.conversation
    assert conv.messages[-1].content == WORDS  # never stale: the writes during the turn invalidated it
    store.loads = 0
    store.rename(conv.id, "renamed")  # one column: no load of the messages
    assert store.loads == 0 and session.conversation.title == "renamed" and store.loads == 1


async def test_regenerate_and_edit_keep_the_earlier_branch(host, store, settings, clock):
    session = session_for(host, store, settings, clock)
    await collect(session.send("q"))
    first = session.conversation.messages[-1]
    await collect(session.regenerate())
    conv = session.conversation
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    assert conv.alternatives[conv.messages[-1].id] == (2, 2)
    back = session.alternative(conv.messages[-1].id, -1)
    assert back.messages[-1].id == first.id
    user = session.conversation.messages[0]
    await collect(session.edit(user.id, "q, edited"))
    conv = session.conversation
    assert [m.content for m in conv.messages][0] == "q, edited"
    assert conv.alternatives[conv.messages[0].id] == (2, 2)
    assert session.prompt_history(here_only=True) == ["q", "q, edited"]
    (_, last) = core_scripted.LOG["requests"][-1]
    assert last.messages == (Message("user", "q, edited"),)  # the edit replaces the turn in the request

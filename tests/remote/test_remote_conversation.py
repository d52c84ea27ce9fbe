"""Switching between ``local`` and a ``remote`` endpoint (our own serve) in one conversation.

Through console.conversation.ChatSession, as the TUI does it. The server's
answers are the evidence: its usage counts the whole history the session sent
(the local reply included), its greedy reply equals the streamed one, and its
``vllm:num_requests_running`` drops when the switch cancels a reply mid-stream.
"""

from __future__ import annotations

import asyncio

from console.api import Finished, Sampling, TextDelta
from console.conversation import ChatSession
from console.metrics import Metrics
from console.plugins import PluginHost
from console.settings import Settings
from console.store import Store
from console.testing import collect


def _sent(session) -> list[dict[str, str]]:
    """The history the next reply is asked with (the conversation before its assistant turn)."""
    msgs = session.conversation.messages[:-1]
    return [{"role": m.role, "content": m.content} for m in msgs]


async def test_switch_between_local_and_remote_mid_conversation(served, tmp_path):
    host = PluginHost.discover(allow=["local", "remote"],
                               config={"remote": {"gpu": {"url": served.url, "model": "builtin"}}})
    settings = Settings(default_backend="local", sampling=Sampling(max_tokens=6, temperature=0.0, seed=0),
                        backend_options={"gpu": {"ignore_eos": True}})
    store = Store(tmp_path / "c.db")
    session = ChatSession(host, store, settings, Metrics())
    try:
        first = await collect(session.send("Hello there"))
        assert isinstance(first[-1], Finished) and first[0].backend == "local"
        local_reply = session.conversation.messages[-1].content
        assert local_reply

        await session.switch_backend("gpu")
        second = await collect(session.send("And what is an expert?"))
        done = second[-1]
        assert isinstance(done, Finished) and second[0].backend == "gpu"
        sent = _sent(session)
        assert sent == [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": local_reply},
                        {"role": "user", "content": "And what is an expert?"}]
        counted = await asyncio.to_thread(served.post, "/tokenize", {"messages": sent})
        assert done.usage.prompt_tokens == counted["count"], "the server saw the whole history, local reply included"
        assert done.timing.label == "measured (remote: gpu, network included)"
        whole = await asyncio.to_thread(served.post, "/v1/chat/completions", {
            "model": "builtin", "messages": sent, "max_tokens": 6, "temperature": 0.0, "seed": 0, "ignore_eos": True})
        assert session.conversation.messages[-1].content == whole["choices"][0]["message"]["content"]

        # switch back while the remote reply streams: it is cancelled and kept, the server frees the sequence
        aborts = await asyncio.to_thread(served.aborted)
        session.sampling = Sampling(max_tokens=900, temperature=0.0)
        stream = session.send("Tell me a long story")
        events: list = []

        async def read():
            async for event in stream:
                events.append(event)

        reader = asyncio.create_task(read())
        while sum(isinstance(e, TextDelta) for e in events) < 2:
            await asyncio.sleep(0.005)
        assert await asyncio.to_thread(served.running) == 1
        await session.switch_backend("local")
        await asyncio.wait_for(reader, 30)
        assert events[-1].reason == "cancelled"
        await asyncio.to_thread(served.wait_for, lambda: served.running() == 0, "the cancelled reply leaves the batch")
        assert await asyncio.to_thread(served.aborted) == aborts + 1

        third = await collect(session.send("and now?"))
        assert isinstance(third[-1], Finished) and third[0].backend == "local"
        msgs = session.conversation.messages
        assert [(m.role, m.backend, m.status) for m in msgs] == [
            ("user", None, "complete"), ("assistant", "local", "complete"),
            ("user", None, "complete"), ("assistant", "gpu", "complete"),
            ("user", None, "complete"), ("assistant", "gpu", "cancelled"),
            ("user", None, "complete"), ("assistant", "local", "complete"),
        ]
        partial = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert msgs[5].content == partial != "", "the partial remote reply is kept as it arrived"
    finally:
        await session.aclose()
        store.close()

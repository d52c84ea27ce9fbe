"""Switching between ``local`` and a ``remote`` endpoint in one conversation (console.conversation)."""

from __future__ import annotations

import asyncio

from console.api import Finished, Sampling
from console.conversation import ChatSession
from console.metrics import Metrics
from console.plugins import PluginHost
from console.settings import Settings
from console.store import Store
from console.testing import collect


async def test_switch_between_local_and_remote_mid_conversation(standin, tmp_path):
    standin.token_delay_s = 0.02
    host = PluginHost.discover(allow=["local", "remote"],
                               config={"remote": {"gpu": {"url": standin.base_url, "model": "standin"}}})
    settings = Settings(default_backend="local", sampling=Sampling(max_tokens=4, temperature=0.0, seed=0))
    store = Store(tmp_path / "c.db")
    session = ChatSession(host, store, settings, Metrics())
    try:
        first = await collect(session.send("Hello there"))
        assert isinstance(first[-1], Finished) and first[0].backend == "local"
        local_reply = session.conversation.messages[-1].content

        await session.switch_backend("gpu")
        second = await collect(session.send("alpha beta gamma delta epsilon zeta eta theta"))
        assert isinstance(second[-1], Finished) and second[0].backend == "gpu"
        sent = standin.requests[-1]["messages"]
        assert sent == [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": local_reply},
                        {"role": "user", "content": "alpha beta gamma delta epsilon zeta eta theta"}]

        # switch back while the remote reply streams: it is cancelled and kept, the server sees the hang-up
        session.sampling = Sampling(max_tokens=200, temperature=0.0)
        stream = session.send("one two three four five six seven eight")
        reader = asyncio.create_task(collect(stream))
        while standin.active == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a few tokens at 20 ms each
        await session.switch_backend("local")
        events = await asyncio.wait_for(reader, 10)
        assert events[-1].reason == "cancelled"
        assert await asyncio.to_thread(standin.idle.wait, 5) and standin.disconnects == 1
        third = await collect(session.send("and now?"))
        assert isinstance(third[-1], Finished) and third[0].backend == "local"
        msgs = session.conversation.messages
        assert [(m.role, m.backend, m.status) for m in msgs] == [
            ("user", None, "complete"), ("assistant", "local", "complete"),
            ("user", None, "complete"), ("assistant", "gpu", "complete"),
            ("user", None, "complete"), ("assistant", "gpu", "cancelled"),
            ("user", None, "complete"), ("assistant", "local", "complete"),
        ]
        echoed = " ".join(m["content"] for m in standin.requests[-1]["messages"] if m["role"] != "system")
        assert msgs[5].content and echoed.startswith(msgs[5].content), "the partial remote reply is kept"
    finally:
        await session.aclose()
        store.close()

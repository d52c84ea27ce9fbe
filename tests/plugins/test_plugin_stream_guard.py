"""host.stream turns plugin exceptions into Failed events and passes cancellation on."""

from __future__ import annotations

import asyncio
import sys

from console.api import Failed, Finished, Message, Request, Sampling, Started, TextDelta, Usage
from console.testing import check_events

STREAMS = """
import asyncio
from console.api import (Backend, BackendError, BackendInfo, Finished, Started, TextDelta, Timing,
                         Usage, hookimpl)
MOE_CONSOLE_API = "1.0"
CLOSED = []

class Base(Backend):
    async def stream(self, request):
        try:
            yield Started(request.request_id, self.info.name, "m", 4, clock="modeled")
            yield TextDelta("Hello ", (1,), at=0.1, clock="modeled")
            yield TextDelta("wor", (2,), at=0.2, clock="modeled")
            async for event in self.rest():
                yield event
        finally:
            CLOSED.append(self.info.name)

class Crashes(Base):
    info = BackendInfo(name="crashes", display_name="C", kind="remote")
    async def rest(self):
        raise RuntimeError("GPU on fire")
        yield

class Refuses(Base):
    info = BackendInfo(name="refuses", display_name="R", kind="remote")
    async def rest(self):
        raise BackendError("server said 503")
        yield

class Trails(Base):
    info = BackendInfo(name="trails", display_name="T", kind="remote")
    async def rest(self):
        return
        yield

class Chatty(Base):
    info = BackendInfo(name="chatty", display_name="Ch", kind="remote")
    async def rest(self):
        yield Finished("stop", Usage(4, 2), Timing(ttft_s=0.0, e2e_s=0.0), clock="modeled")
        yield TextDelta("after the end")

class Endless(Base):
    info = BackendInfo(name="endless", display_name="E", kind="remote")
    async def rest(self):
        while True:
            await asyncio.sleep(0.001)
            yield TextDelta("la ", (3,), clock="modeled")

@hookimpl
def register_backends(register):
    for cls in (Crashes, Refuses, Trails, Chatty, Endless):
        register(cls)
"""

REQUEST = Request(messages=(Message("user", "hi"),), sampling=Sampling(max_tokens=8))


async def _events(host, name):
    return [e async for e in host.stream(host.create(name), REQUEST)]


async def test_exception_mid_stream_becomes_failed_with_partial_text(workshop):
    workshop.add("streams", STREAMS)
    workshop.add_good("good")
    host = workshop.host()
    events = await _events(host, "crashes")
    assert [type(e) for e in events] == [Started, TextDelta, TextDelta, Failed]
    failed = events[-1]
    assert failed.error == "RuntimeError: GPU on fire"
    assert failed.partial_text == "Hello wor"
    assert (failed.at, failed.clock) == (0.2, "modeled")  # on the backend's clock
    assert (failed.usage.prompt_tokens, failed.usage.completion_tokens) == (4, 2)
    check_events(events, backend=host.create("crashes"), request=REQUEST)  # still a valid stream
    record = host.plugin("streams")
    assert record.status == "failed"
    assert record.error == "backend 'crashes' raised in stream: RuntimeError: GPU on fire"
    good = await _events(host, "good")  # another plugin is unaffected
    assert isinstance(good[-1], Finished)


async def test_backend_error_is_a_failed_reply_not_a_broken_plugin(workshop):
    workshop.add("streams", STREAMS)
    host = workshop.host()
    events = await _events(host, "refuses")
    assert events[-1] == Failed("server said 503", partial_text="Hello wor", usage=Usage(4, 2), at=0.2,
                                clock="modeled")
    assert host.plugin("streams").status == "loaded"


async def test_stream_without_final_event_is_completed_with_failed(workshop):
    workshop.add("streams", STREAMS)
    host = workshop.host()
    events = await _events(host, "trails")
    assert events[-1].error == "stream ended without a Finished or Failed event"
    assert host.plugin("streams").status == "failed"


async def test_events_after_the_final_one_are_dropped_and_the_stream_closed(workshop):
    module = workshop.add("streams", STREAMS)
    host = workshop.host()
    events = await _events(host, "chatty")
    assert [type(e) for e in events] == [Started, TextDelta, TextDelta, Finished]
    assert sys.modules[module].CLOSED == ["chatty"]


async def test_aclose_closes_the_backend_generator(workshop):
    module = workshop.add("streams", STREAMS)
    host = workshop.host()
    stream = host.stream(host.create("endless"), REQUEST)
    async for event in stream:
        if isinstance(event, TextDelta) and event.text == "la ":
            break
    await stream.aclose()
    assert sys.modules[module].CLOSED == ["endless"]


async def test_task_cancel_reaches_the_backend(workshop):
    module = workshop.add("streams", STREAMS)
    host = workshop.host()
    seen = asyncio.Event()

    async def consume():
        async for event in host.stream(host.create("endless"), REQUEST):
            if isinstance(event, TextDelta) and event.text == "la ":
                seen.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done and task.cancelled()
    assert sys.modules[module].CLOSED == ["endless"]
    assert host.plugin("streams").status == "loaded"

"""console.engine.aio: blocking engine steps as an async iterator, with cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from console.engine import load_model
from console.engine.aio import AsyncSteps, steps_of_model
from tiny_model import write_tiny_model


class Source:
    """A blocking producer that sleeps between items and honours cancel()."""

    def __init__(self, n, gap_s=0.02, fail_at=None):
        self.n, self.gap_s, self.fail_at = n, gap_s, fail_at
        self.cancelled = threading.Event()
        self.produced_at: list[float] = []
        self.thread_names: set[str] = set()

    def cancel(self):
        self.cancelled.set()

    def __iter__(self):
        for i in range(self.n):
            if self.cancelled.is_set():
                return
            time.sleep(self.gap_s)
            if i == self.fail_at:
                raise RuntimeError("engine broke")
            self.thread_names.add(threading.current_thread().name)
            self.produced_at.append(time.monotonic())
            yield i


async def test_steps_arrive_in_order_stamped_where_they_were_produced():
    source = Source(5)
    got = []
    async with AsyncSteps(source, source.cancel) as steps:
        async for timed in steps:
            got.append(timed)
            await asyncio.sleep(0.05)  # a slow consumer must not delay the timestamps
    assert [t.step for t in got] == [0, 1, 2, 3, 4]
    # Stamped at production: a stamp taken by the consumer would lag by up to 4 x 0.05 s.
    assert [t.at for t in got] == pytest.approx(source.produced_at, abs=0.015)
    assert threading.current_thread().name not in source.thread_names


async def test_event_loop_stays_responsive_while_the_engine_blocks():
    source = Source(3, gap_s=0.1)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    async with AsyncSteps(source, source.cancel) as steps:
        assert [t.step async for t in steps] == [0, 1, 2]
    task.cancel()
    assert ticks >= 10  # about 30 when nothing else competes; 0 if the engine blocked the loop


async def test_aclose_cancels_the_source_and_waits_for_it():
    source = Source(1000, gap_s=0.005)
    steps = AsyncSteps(source, source.cancel)
    async for timed in steps:
        if timed.step == 2:
            break
    await steps.aclose()
    assert source.cancelled.is_set()
    produced = len(source.produced_at)
    await asyncio.sleep(0.05)
    assert len(source.produced_at) == produced < 10
    assert [t async for t in steps] == []


async def test_engine_errors_reach_the_consumer_after_the_good_steps():
    source = Source(5, gap_s=0.001, fail_at=3)
    got = []
    with pytest.raises(RuntimeError, match="engine broke"):
        async for timed in AsyncSteps(source, source.cancel):
            got.append(timed.step)
    assert got == [0, 1, 2]


async def test_model_stream_is_stopped_between_tokens(tmp_path):
    model = load_model(write_tiny_model(tmp_path / "m"))
    prompt = model.tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}])
    full = list(model.generate(prompt, 6))
    async with steps_of_model(model, prompt, 6, routing=True) as steps:
        got = [t async for t in steps]
    assert [t.step.token_id for t in got] == full
    assert got[0].step.prefill and got[0].step.routing is not None
    steps = steps_of_model(model, prompt, 10_000)
    async for timed in steps:
        break
    await steps.aclose()
    assert steps._thread is not None and not steps._thread.is_alive()

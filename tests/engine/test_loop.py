"""The batching GenerationLoop: same tokens as Model.generate, batched steps, cancellation."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from console.engine import EngineError, GenerationLoop, SamplingParams, load_model

from .checkpoints import write_checkpoint

rng = np.random.default_rng(4)
PROMPTS = [[int(t) for t in rng.integers(0, 96, n)] for n in (3, 11, 6, 17)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(write_checkpoint(tmp_path_factory.mktemp("m") / "v3", "v3"))


def test_loop_tokens_equal_generate_and_steps_are_batched(model):
    params = [None, SamplingParams(temperature=1.0, seed=9), None, SamplingParams(temperature=0.7, top_k=20, seed=3)]
    want = [list(model.generate(p, 12, s)) for p, s in zip(PROMPTS, params)]
    with GenerationLoop(model) as loop:
        gate = threading.Event()
        original = model.decode
        calls = []

        def decode(caches, tokens):
            gate.wait(5)
            calls.append(len(caches))
            return original(caches, tokens)

        model.decode = decode                                # hold the loop until all are submitted
        try:
            handles = [loop.submit(p, 12, s, routing=True) for p, s in zip(PROMPTS, params)]
            gate.set()
            got = [[step.token_id for step in h] for h in handles]
        finally:
            del model.decode
    assert got == want
    assert all(h.finish_reason == "length" for h in handles)
    assert max(calls) == 4                                   # all four decoded in one batched call
    assert sum(calls) == 4 * 11                              # 11 decode steps each, nothing per token extra


def test_cancel_stops_a_request_and_others_continue(model):
    with GenerationLoop(model) as loop:
        long = loop.submit(PROMPTS[1], 2000)
        short = loop.submit(PROMPTS[0], 5)
        first = next(iter(long))
        long.cancel()
        rest = list(long)
        assert long.finish_reason == "cancelled" and len(rest) < 1999 and first.prefill
        assert len(list(short)) == 5 and short.finish_reason == "length"


def test_stop_tokens_and_zero_tokens_in_the_loop(model):
    tokens = list(model.generate(PROMPTS[2], 10))
    j = next(i for i in range(1, 10) if tokens[i] not in tokens[:i])
    with GenerationLoop(model) as loop:
        h = loop.submit(PROMPTS[2], 10, SamplingParams(stop_token_ids=(tokens[j],)))
        assert [s.token_id for s in h] == tokens[:j] and h.finish_reason == "stop"
        z = loop.submit(PROMPTS[2], 0)
        assert list(z) == [] and z.finish_reason == "length"


def test_bad_requests_fail_at_submit_and_closed_loop_refuses(model):
    loop = GenerationLoop(model)
    with pytest.raises(EngineError, match="out of range"):
        loop.submit([1, 1000], 4)
    pending = loop.submit(PROMPTS[0], 100000)
    loop.close()
    assert list(pending) is not None and pending.finish_reason == "cancelled"
    with pytest.raises(EngineError, match="closed"):
        loop.submit(PROMPTS[0], 4)


def test_handles_can_be_consumed_with_async_for(model):
    async def consume():
        with GenerationLoop(model) as loop:
            handle = loop.submit(PROMPTS[3], 6, routing=True)
            return [step async for step in handle]

    steps = asyncio.run(consume())
    assert [s.token_id for s in steps] == list(model.generate(PROMPTS[3], 6))
    assert all(len(s.routing) == len(model.moe_layers) for s in steps)
    assert all(s.at is not None for s in steps) and steps[0].at <= steps[-1].at

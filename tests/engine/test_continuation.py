"""Prefill continues at each cache's length (chunked prefill, prefix reuse), caches fork, and the
generation loop schedules chunks under its token budget and reuses cached prefixes."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from console.engine import GenerationLoop, SamplingParams, load_model
from console.engine.prefix_cache import PrefixCache

from .checkpoints import write_checkpoint

rng = np.random.default_rng(11)
IDS = rng.integers(0, 96, 48)
ARCHS = {"v3": {}, "v2": {}, "mixtral": {"sliding_window": 9}}


@pytest.fixture(scope="module", params=sorted(ARCHS))
def model(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cont") / request.param
    return load_model(write_checkpoint(folder, request.param, **ARCHS[request.param]))


def test_chunked_prefill_equals_one_pass_and_decode_continues(model):
    whole = model.logits(IDS)
    cache = model.new_cache()
    parts = [model.prefill([IDS[a:b]], [cache], all_positions=True)[0][0]
             for a, b in ((0, 1), (1, 7), (7, 30), (30, 48))]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-4)
    assert cache.length == 48
    ref = model.new_cache()
    model.prefill([IDS], [ref])
    np.testing.assert_allclose(model.decode([cache], [3])[0], model.decode([ref], [3])[0], atol=1e-4)


def test_sequences_continue_at_their_own_offsets_in_one_call(model):
    whole = model.logits(IDS)
    a, b = model.new_cache(), model.new_cache()
    model.prefill([IDS[:20]], [a])
    got, _ = model.prefill([IDS[20:35], IDS[:5]], [a, b], all_positions=True)
    np.testing.assert_allclose(got[0], whole[20:35], atol=1e-4)
    np.testing.assert_allclose(got[1], whole[:5], atol=1e-4)
    assert (a.length, b.length) == (35, 5)


def test_fork_copies_a_prefix_and_leaves_the_original_intact(model):
    whole = model.logits(IDS)
    cache = model.new_cache()
    model.prefill([IDS[:40]], [cache])
    before = cache.data.copy()
    twin = cache.fork(25)
    assert twin.length == 25 and twin.data is not cache.data
    got, _ = model.prefill([IDS[25:48]], [twin], all_positions=True)
    np.testing.assert_allclose(got[0], whole[25:48], atol=1e-4)
    np.testing.assert_array_equal(cache.data, before)
    with pytest.raises(ValueError):
        cache.fork(41)


def test_prefix_cache_finds_the_longest_prefix_and_evicts_lru():
    class Cache:
        def __init__(self, n):
            self.length, self.forked = n, None

        def nbytes_held(self):
            return 100

        def fork(self, n):
            twin = Cache(n)
            twin.forked = self
            return twin

    store = PrefixCache(max_bytes=250)
    a, b = Cache(6), Cache(4)
    store.insert(np.arange(6), a)
    store.insert(np.array([0, 1, 9, 9]), b)
    got, n = store.lookup(np.array([0, 1, 2, 3, 7]))
    assert n == 4 and got.forked is a
    got, n = store.lookup(np.arange(6))            # one token is always left to prefill
    assert n == 5 and got.forked is a
    store.insert(np.array([5, 5]), Cache(2))       # 300 bytes > 250: the LRU entry (b) goes
    assert store.lookup(np.array([0, 1, 9, 9, 1]))[1] == 2 and len(store) == 2
    store.insert(np.arange(8), Cache(8))           # supersedes a (its prefix)
    assert len(store) == 2 and store.hit_tokens == 4 + 5 + 2


def test_loop_chunks_long_prompts_while_others_decode(model):
    long_prompt = np.concatenate([IDS] * 4)[:150]
    want_long = list(model.generate(long_prompt, 4))
    want_short = list(model.generate(IDS[:5], 30))
    with GenerationLoop(model, max_num_batched_tokens=16, prefix_cache=False) as loop:
        sizes = []
        original = model.prefill

        def prefill(seqs, caches=None, all_positions=False):
            sizes.append(sum(len(s) for s in seqs))
            return original(seqs, caches, all_positions)

        model.prefill = prefill
        try:
            short = loop.submit(IDS[:5], 30)
            first = next(iter(short))
            long = loop.submit(long_prompt, 4)
            got_short = [first.token_id] + [s.token_id for s in short]
            got_long = [s.token_id for s in long]
        finally:
            del model.prefill
    assert got_short == want_short and got_long == want_long
    assert max(sizes) <= 16 and len(sizes) >= 150 // 16     # never more than the budget per step


def test_loop_reuses_prefixes_and_gives_the_same_tokens(model):
    params = SamplingParams(temperature=0.8, seed=5)
    with GenerationLoop(model) as loop:
        first = loop.submit(IDS[:30], 6, params)
        reply = [s.token_id for s in first]
        turn2 = np.concatenate([IDS[:30], reply, IDS[30:40]])
        handle = loop.submit(turn2, 8, params)
        got = [s.token_id for s in handle]
    assert handle.cached_tokens == 30 + 5              # the prompt and the fed reply tokens
    assert got == list(model.generate(turn2, 8, params))
    with GenerationLoop(model, prefix_cache=False) as loop:
        loop.submit(IDS[:30], 6, params).wait()
        again = loop.submit(turn2, 8, params)
        again.wait()
    assert again.cached_tokens == 0


def test_min_new_tokens_holds_back_stop_tokens(model):
    tokens = list(model.generate(IDS[:6], 12))
    stop = tokens[2]
    with GenerationLoop(model) as loop:
        early = loop.submit(IDS[:6], 12, SamplingParams(stop_token_ids=(stop,)))
        late = loop.submit(IDS[:6], 12, SamplingParams(stop_token_ids=(stop,)), min_new_tokens=6)
        n_early, n_late = len(list(early)), len(list(late))
    assert n_early == tokens.index(stop) and n_late >= 6


def test_async_batches_and_cancel_frees_the_sequence(model):
    async def run():
        with GenerationLoop(model) as loop:
            handle = loop.submit(IDS[:8], 5000)
            got = 0
            async for steps in handle.batches():
                got += len(steps)
                if got >= 3:
                    handle.cancel()
            await asyncio.to_thread(handle.wait, 5)
            return handle, loop.stats.running, got

    handle, running, got = asyncio.run(run())
    assert handle.finish_reason == "cancelled" and got < 5000 and running == 0

"""Prompts of exactly P tokens, counted by the endpoint or by the model's own tokenizer."""

from __future__ import annotations

import httpx
import pytest

from console.engine import builtin_model_path
from console.engine.tokenizer import load_tokenizer
from console.loadgen.workload import EndpointCounter, LocalCounter, Workload, build_prompts


def workload(**kw):
    base = dict(prompt_tokens=37, output_tokens=8, requests=5, concurrency=(1, 4), seed=3)
    return Workload(**{**base, **kw})


async def test_prompts_have_exactly_p_tokens_by_the_endpoints_count(served):
    async with httpx.AsyncClient() as client:
        counter = EndpointCounter(client, served.root, "builtin", {})
        assert await counter.works()
        prompts = await build_prompts(counter, workload(), level=0)
        again = await build_prompts(counter, workload(), level=0)
        other_level = await build_prompts(counter, workload(), level=1)
    assert [served.post("/tokenize", {"prompt": p})["count"] for p in prompts] == [37] * 5
    assert prompts == again, "same seed and level: the same prompts"
    assert len(set(prompts)) == 5 and not set(prompts) & set(other_level), "prompts differ per request and level"
    assert "the endpoint's" in counter.source and "/tokenize" in counter.source


@pytest.mark.parametrize("length", [2, 64, 300])
async def test_prompts_have_exactly_p_tokens_by_the_builtin_tokenizer(length):
    counter = LocalCounter(str(builtin_model_path()), "built-in model")
    prompts = await build_prompts(counter, workload(prompt_tokens=length, requests=3), level=0)
    reference = load_tokenizer(builtin_model_path())  # a second, independent instance
    assert [1 + len(reference.encode(p)) for p in prompts] == [length] * 3  # BOS + text, as a server counts
    assert "built-in model" in counter.source and "BOS counted" in counter.source


async def test_both_counters_agree_with_the_servers_usage(served):
    """The same text, counted by our serve's /tokenize, by the model's tokenizer, and by the
    server itself when it runs the prompt (usage.prompt_tokens)."""
    async with httpx.AsyncClient() as client:
        endpoint = EndpointCounter(client, served.root, "builtin", {})
        local = LocalCounter(str(builtin_model_path()), "built-in model")
        for prompts in (await build_prompts(endpoint, workload(prompt_tokens=29, requests=2), level=0),
                        await build_prompts(local, workload(prompt_tokens=29, requests=2), level=0)):
            for prompt in prompts:
                assert await endpoint.count(prompt) == await local.count(prompt) == 29
                done = (await client.post(served.url + "/completions", json={
                    "model": "builtin", "prompt": prompt, "max_tokens": 1})).json()
                assert done["usage"]["prompt_tokens"] == 29


def test_arrivals_are_seeded_poisson_and_all_at_once_without_a_rate():
    assert workload(requests=4).arrivals(0) == [0.0] * 4
    poisson = workload(requests=400, request_rate=50.0)
    times = poisson.arrivals(0)
    assert times == poisson.arrivals(0) and times != poisson.arrivals(1)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g > 0 for g in gaps)
    assert 0.015 < sum(gaps) / len(gaps) < 0.025  # mean gap 1/rate = 20 ms (400 draws)


def test_bad_workloads_are_explained():
    assert workload(prompt_tokens=0).problems() == ["--prompt-tokens must be at least 1 (got 0)"]
    assert "--concurrency" in workload(concurrency=(1, 0)).problems()[0]
    assert "--request-rate" in workload(request_rate=-1.0).problems()[0]

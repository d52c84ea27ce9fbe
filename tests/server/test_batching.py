"""Continuous batching through HTTP: 16 concurrent streams, reproducible seeds, and a client
that hangs up mid-stream frees its sequence at once."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai

from .sse_client import content, events

PROMPTS = [f"Question {i}: which expert handles token number {i * 7}?" for i in range(16)]


async def _reply(client: openai.AsyncOpenAI, i: int) -> str:
    stream = await client.chat.completions.create(
        model="builtin", messages=[{"role": "user", "content": PROMPTS[i]}], max_tokens=40,
        temperature=0.8, seed=100 + i, stream=True)
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    return "".join(parts)


def test_sixteen_concurrent_streams_complete_and_equal_their_solo_runs(server):
    async def run():
        async with openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=120) as client:
            alone = [await _reply(client, i) for i in range(16)]
            peak = 0
            done = asyncio.Event()

            async def watch():
                nonlocal peak
                async with httpx.AsyncClient() as http:
                    while not done.is_set():
                        text = (await http.get(server.base + "/metrics")).text
                        line = next(l for l in text.splitlines() if l.startswith("vllm:num_requests_running{"))
                        peak = max(peak, int(float(line.rsplit(" ", 1)[1])))
                        await asyncio.sleep(0.01)

            watcher = asyncio.create_task(watch())
            together = await asyncio.gather(*[_reply(client, i) for i in range(16)])
            done.set()
            await watcher
            return alone, together, peak

    alone, together, peak = asyncio.run(run())
    assert all(alone) and together == alone
    assert peak >= 4          # they ran in one batch, not one after another


def test_a_client_that_hangs_up_frees_its_sequence_within_a_second(server):
    body = {"model": "builtin", "prompt": "Once", "max_tokens": 900, "ignore_eos": True, "stream": True}
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", server.url + "/completions", json=body) as response:
            stream = events(response)
            for _ in range(3):
                next(stream)
            assert server.metric("vllm:num_requests_running") == 1
        hung_up = time.monotonic()                          # leaving the block closes the connection
        while server.metric("vllm:num_requests_running") != 0:
            assert time.monotonic() - hung_up < 1.0, "the sequence was not freed within a second"
            time.sleep(0.01)
        reply = http.post(server.url + "/completions", json={"prompt": "Next", "max_tokens": 3, "temperature": 0})
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 3

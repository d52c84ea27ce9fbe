"""Chunked prefill keeps a decoding stream flowing while a 2,000-token prompt goes in, and
prefix reuse makes a later chat turn's time to first token smaller.

The bounds are relative (measured in the same run), so a loaded machine slows both sides alike.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from .serving import start_server
from .sse_client import content, events

LONG_PROMPT = [(17 * i + 5) % 8000 for i in range(2000)]


@pytest.fixture(scope="module")
def long_server(long_model):
    served = start_server("--model", str(long_model), "--max-num-batched-tokens", "64")
    yield served
    assert served.stop() == 0


def _long_prompt_during_a_stream(url: str) -> tuple[float, list[float]]:
    """Start a decoding stream, send the 2,000-token prompt, return (its prefill time, the
    decoding stream's inter-token gaps while it was prefilled)."""
    stamps: list[float] = []
    long_done: list[float] = []
    decoding = threading.Event()

    def decode_stream():
        body = {"prompt": [5, 6, 7], "max_tokens": 3000, "ignore_eos": True, "stream": True, "temperature": 0}
        with httpx.stream("POST", url, json=body, timeout=60) as response:
            for at, payload in events(response):
                if content(payload):
                    stamps.append(at)
                    if len(stamps) == 20:
                        decoding.set()
                if long_done and at > long_done[0] + 0.1:
                    break

    reader = threading.Thread(target=decode_stream)
    reader.start()
    assert decoding.wait(30)
    sent = time.monotonic()
    body = {"prompt": LONG_PROMPT, "max_tokens": 1, "stream": True}
    with httpx.stream("POST", url, json=body, timeout=60) as response:
        first = next(at for at, payload in events(response) if content(payload) or payload == "[DONE]")
    long_done.append(first)
    reader.join(60)
    return first - sent, [b - a for a, b in zip(stamps, stamps[1:]) if b > sent and a < first]


def test_a_long_prompt_does_not_stall_a_decoding_stream(long_server):
    """Without chunks the stream would wait for the whole prefill; with a 64-token budget its
    largest gap is a few chunks' worth. Best of five tries (a busy machine can stall both)."""
    tries = []
    for _ in range(5):
        prefill_s, during = _long_prompt_during_a_stream(long_server.url + "/completions")
        tries.append((max(during) / prefill_s, prefill_s, max(during), len(during)))
        if len(during) >= 10 and max(during) < prefill_s / 4:
            break
    ratio, prefill_s, gap, n = min(tries)
    print(f"2,000-token prefill took {prefill_s * 1e3:.0f} ms in {2000 // 64 + 1} chunks; the decoding "
          f"stream's largest gap meanwhile: {gap * 1e3:.1f} ms over {n} gaps")
    assert n >= 10                     # the stream kept receiving tokens during the prefill
    assert ratio < 1 / 4               # and no gap came near the whole prefill


def _turn_ttft(url: str, messages: list[dict]) -> tuple[float, str, int]:
    body = {"model": "builtin", "messages": messages, "max_tokens": 24, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    sent, first, text, cached = time.monotonic(), None, [], 0
    with httpx.stream("POST", url + "/chat/completions", json=body, timeout=60) as response:
        for at, payload in events(response):
            piece = content(payload)
            if piece and first is None:
                first = at
            text.append(piece)
            if isinstance(payload, dict) and payload.get("usage"):
                cached = payload["usage"]["prompt_tokens_details"]["cached_tokens"]
    return (first or time.monotonic()) - sent, "".join(text), cached


def _conversation(url: str, topic: int) -> tuple[float, int, int]:
    """Five turns; returns turn 5's TTFT, its cached prompt tokens and its prompt length."""
    filler = " ".join(f"Point {topic}.{j}: experts split the work of every layer." for j in range(9))
    messages: list[dict] = []
    for turn in range(5):
        messages.append({"role": "user", "content": f"Turn {turn} of talk {topic}. {filler}"})
        ttft, reply, cached = _turn_ttft(url, messages)
        messages.append({"role": "assistant", "content": reply})
    tokens = httpx.post(url[:-3] + "/tokenize", json={"messages": messages[:-1]}).json()["count"]
    return ttft, cached, tokens


def test_prefix_reuse_shortens_turn_five(server):
    cold = start_server("--no-prefix-cache")
    try:
        off = [_conversation(cold.url, topic) for topic in range(3)]
    finally:
        assert cold.stop() == 0
    on = [_conversation(server.url, topic) for topic in range(10, 13)]
    ttft_on, ttft_off = min(t for t, _, _ in on), min(t for t, _, _ in off)
    print(f"turn 5 TTFT with prefix reuse {ttft_on * 1e3:.1f} ms, without {ttft_off * 1e3:.1f} ms: "
          f"ratio {ttft_on / ttft_off:.2f}; prompt {on[0][2]} tokens, {on[0][1]} from the cache")
    assert all(cached == 0 for _, cached, _ in off)
    assert all(cached > tokens // 2 for _, cached, tokens in on)
    assert ttft_on < 0.8 * ttft_off

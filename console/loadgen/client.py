"""One benchmark request: a streamed ``/v1/completions`` call timed on arrival.

Timing, on ``time.monotonic()`` read as each SSE line arrives (network included):
``ttft_s`` = first chunk carrying text; ``itl_s`` = the gap before each later
chunk carrying text; ``e2e_s`` = the end of the stream. Output tokens come
from the server's final ``usage`` (``stream_options.include_usage``), else the
text chunks are counted (``usage_reported`` False says so). A failed request
keeps its error line and whatever was timed before it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from moe_console_remote.errors import EndpointError
from moe_console_remote.sse import stream_json


@dataclass
class RequestRecord:
    """The raw figures of one request (CONTRACTS.md §2 ``requests[]``)."""

    ttft_s: float | None = None
    e2e_s: float | None = None
    output_tokens: int = 0
    prompt_tokens: int | None = None
    itl_s: list[float] = field(default_factory=list)
    error: str | None = None
    usage_reported: bool = False
    sent_s: float = 0.0  # when it was sent, seconds after its level started

    @property
    def ok(self) -> bool:
        return self.error is None and self.ttft_s is not None

    def as_dict(self) -> dict[str, Any]:
        return {"ttft_s": self.ttft_s, "e2e_s": self.e2e_s, "output_tokens": self.output_tokens,
                "prompt_tokens": self.prompt_tokens, "itl_s": self.itl_s, "error": self.error,
                "usage_reported": self.usage_reported, "sent_s": self.sent_s}


def completion_payload(model: str, prompt: str, output_tokens: int, seed: int, ignore_eos: bool) -> dict[str, Any]:
    """Greedy, exactly ``output_tokens`` long when the server honours ``ignore_eos``."""
    payload: dict[str, Any] = {"model": model, "prompt": prompt, "max_tokens": output_tokens, "temperature": 0.0,
                               "seed": seed, "stream": True, "stream_options": {"include_usage": True}}
    if ignore_eos:
        payload["ignore_eos"] = True
    return payload


async def send(client: httpx.AsyncClient, url: str, payload: dict[str, Any], headers: dict[str, str],
               *, sent_s: float = 0.0) -> RequestRecord:
    """POST one streamed completion to ``url`` (``.../v1/completions``) and time it."""
    record = RequestRecord(sent_s=sent_s)
    start = time.monotonic()
    last: float | None = None
    chunks = 0
    try:
        async for chunk in stream_json(client, url, payload, headers):
            usage = chunk.data.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                record.output_tokens, record.usage_reported = usage["completion_tokens"], True
                if isinstance(usage.get("prompt_tokens"), int):
                    record.prompt_tokens = usage["prompt_tokens"]
            for choice in chunk.data.get("choices") or ():
                text = choice.get("text") or (choice.get("delta") or {}).get("content") or ""
                if not text:
                    continue
                chunks += 1
                if last is None:
                    record.ttft_s = chunk.at - start
                else:
                    record.itl_s.append(chunk.at - last)
                last = chunk.at
    except EndpointError as exc:
        record.error = str(exc)
    record.e2e_s = time.monotonic() - start
    if not record.usage_reported:
        record.output_tokens = chunks
    if record.error is None and record.ttft_s is None:
        record.error = f"{url}: the stream carried no text"
    return record

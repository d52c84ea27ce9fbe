"""The ``echo`` backend: echo mode, or an OpenAI-compatible server (see the package doc)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any, AsyncIterator

from console.api import (
    Backend,
    BackendInfo,
    Capabilities,
    Event,
    Failed,
    Finished,
    Option,
    Request,
    Started,
    TextDelta,
    Timing,
    Usage,
)

from moe_console_echo.sse import HTTPError, post_events

_WORD = re.compile(r"\s*\S+|\s+")  # a word with the space before it; trailing space


def _timing(start: float, token_times: list[float], end: float, label: str) -> Timing:
    """Measured timing from the arrival times of the pieces of the reply."""
    first = token_times[0] if token_times else end
    gaps = tuple(b - a for a, b in zip(token_times, token_times[1:]))
    return Timing(ttft_s=first - start, e2e_s=end - start, inter_token_s=gaps,
                  prefill_s=first - start, decode_s=sum(gaps), label=label)


class EchoBackend(Backend):
    info = BackendInfo(
        name="echo",
        display_name="Echo / OpenAI-compatible server",
        kind="remote",
        hardware="wherever base_url points (none in echo mode)",
        model="the server's model (echo mode: your own words back)",
        description="Example plugin: echoes you, or streams from an OpenAI-compatible /chat/completions.",
    )
    capabilities = Capabilities(cancel=True)
    options = (
        Option("base_url", "str", "", "OpenAI-compatible API root such as http://127.0.0.1:8000/v1; "
               "empty: echo the last user message, no server needed"),
        Option("model", "str", "default", "model name sent to the server"),
        Option("api_key_env", "str", "OPENAI_API_KEY",
               "environment variable holding the API key, sent as a Bearer token when set"),
        Option("delay_s", "float", 0.02, "echo mode: seconds between words", minimum=0.0, maximum=10.0),
        Option("timeout_s", "float", 30.0, "seconds to wait for the server before giving up", minimum=0.1),
    )

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        source = self._from_server if self.settings["base_url"] else self._echo
        async for event in source(request):
            yield event

    # ----------------------------------------------------------- echo mode
    async def _echo(self, request: Request) -> AsyncIterator[Event]:
        start = time.monotonic()
        user = [m.content for m in request.messages if m.role == "user"]
        words = _WORD.findall(user[-1] if user else "")
        limit = request.sampling.max_tokens
        reply, reason = "".join(words[:limit]), ("length" if len(words) > limit else "stop")
        cuts = [j for j in (reply.find(s) for s in request.sampling.stop if s) if j >= 0]
        if cuts:
            reply, reason = reply[: min(cuts)], "stop"
        prompt = sum(len(_WORD.findall(m.content)) for m in request.messages)
        yield Started(request.request_id, self.info.name, "echo", prompt, at=0.0)
        times: list[float] = []
        for piece in _WORD.findall(reply):
            await asyncio.sleep(self.settings["delay_s"])
            times.append(time.monotonic())
            yield TextDelta(piece, at=times[-1] - start)
        end = time.monotonic()
        timing = _timing(start, times, end, "measured (echo mode: no model, paced by delay_s)")
        yield Finished(reason, Usage(prompt, len(times)), timing, at=end - start)

    # ------------------------------------------------------- server mode
    def _payload(self, request: Request) -> dict[str, Any]:
        s = request.sampling
        payload: dict[str, Any] = {
            "model": self.settings["model"],
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
        }
        if s.seed is not None:
            payload["seed"] = s.seed
        if s.stop:
            payload["stop"] = list(s.stop)
        # vLLM/SGLang extensions, sent only when they change something.
        for key, value, neutral in (("top_k", s.top_k, 0), ("min_p", s.min_p, 0.0),
                                    ("repetition_penalty", s.repetition_penalty, 1.0)):
            if value != neutral:
                payload[key] = value
        return payload

    async def _from_server(self, request: Request) -> AsyncIterator[Event]:
        start = time.monotonic()
        url = self.settings["base_url"].rstrip("/") + "/chat/completions"
        key = os.environ.get(self.settings["api_key_env"], "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        text, times, reason, usage, model = "", [], "stop", None, self.settings["model"]
        started = False
        try:
            async for chunk in post_events(url, self._payload(request), headers, self.settings["timeout_s"]):
                if not started:
                    model = chunk.get("model") or model
                    # prompt_tokens is 0 here: an OpenAI stream reports usage only at its end
                    yield Started(request.request_id, self.info.name, model, 0, at=time.monotonic() - start)
                    started = True
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        times.append(time.monotonic())
                        text += piece
                        yield TextDelta(piece, at=times[-1] - start)
                    if choice.get("finish_reason") in ("stop", "length"):
                        reason = choice["finish_reason"]
        except (OSError, TimeoutError, HTTPError, ValueError) as exc:
            detail = str(exc) or type(exc).__name__
            yield Failed(f"{url}: {' '.join(detail.split())}", partial_text=text,
                         usage=Usage(0, len(times)), at=time.monotonic() - start)
            return
        if not started:
            yield Failed(f"{url}: the server sent no events", at=time.monotonic() - start)
            return
        end = time.monotonic()
        prompt = int(usage.get("prompt_tokens", 0)) if usage else 0
        completion = int(usage.get("completion_tokens", len(times))) if usage else len(times)
        timing = _timing(start, times, end, "measured (client side: network + server)")
        yield Finished(reason, Usage(prompt, completion), timing, at=end - start)

"""The ``echo`` backend: echo mode, or an OpenAI-compatible server (see the package doc)."""

from __future__ import annotations

import asyncio
import re
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
    TokenTimer,
    Usage,
)

from moe_console_echo.sse import HTTPError, post_events

_WORD = re.compile(r"\s*\S+|\s+")  # a word with the space before it; trailing space


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
        Option("api_key_env", "secret", "OPENAI_API_KEY",
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
        timer = TokenTimer(label="measured (echo mode: no model, paced by delay_s)")
        user = [m.content for m in request.messages if m.role == "user"]
        words = _WORD.findall(user[-1] if user else "")
        limit = request.sampling.max_tokens
        reply, reason = "".join(words[:limit]), ("length" if len(words) > limit else "stop")
        cuts = [j for j in (reply.find(s) for s in request.sampling.stop if s) if j >= 0]
        if cuts:
            reply, reason = reply[: min(cuts)], "stop"
        prompt = sum(len(_WORD.findall(m.content)) for m in request.messages)
        yield Started(request.request_id, self.info.name, "echo", prompt, at=0.0)
        for piece in _WORD.findall(reply):
            await asyncio.sleep(self.settings["delay_s"])
            yield TextDelta(piece, at=timer.token())
        timing = timer.timing()
        yield Finished(reason, Usage(prompt, timer.count), timing, at=timing.e2e_s)

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
        timer = TokenTimer(label="measured (client side: network + server)")
        url = self.settings["base_url"].rstrip("/") + "/chat/completions"
        key = self.secret("api_key_env") or ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        text, reason, usage, model = "", "stop", None, self.settings["model"]
        started = False
        try:
            async for chunk in post_events(url, self._payload(request), headers, self.settings["timeout_s"]):
                if not started:
                    model = chunk.get("model") or model
                    # prompt_tokens is 0 here: an OpenAI stream reports usage only at its end
                    yield Started(request.request_id, self.info.name, model, 0, at=timer.now())
                    started = True
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        text += piece
                        yield TextDelta(piece, at=timer.token())
                    if choice.get("finish_reason") in ("stop", "length"):
                        reason = choice["finish_reason"]
        except (OSError, TimeoutError, HTTPError, ValueError) as exc:
            detail = str(exc) or type(exc).__name__
            yield Failed(f"{url}: {' '.join(detail.split())}", partial_text=text,
                         usage=Usage(0, timer.count), at=timer.now())
            return
        if not started:
            yield Failed(f"{url}: the server sent no events", at=timer.now())
            return
        prompt = int(usage.get("prompt_tokens", 0)) if usage else 0
        completion = int(usage.get("completion_tokens", timer.count)) if usage else timer.count
        timing = timer.timing()
        yield Finished(reason, Usage(prompt, completion), timing, at=timing.e2e_s)

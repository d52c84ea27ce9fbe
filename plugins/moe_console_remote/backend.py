"""The ``remote`` backend: chat streamed from an OpenAI-compatible endpoint, measured on arrival.

One backend class per configured endpoint (:func:`backend_class`), so each
``[remote.NAME]`` table is its own entry in the picker. Every reply:

* ``Started`` at once (before the request is sent), then one ``TextDelta`` per
  content chunk, timestamped with ``time.monotonic()`` as the chunk's line came
  off the socket; TTFT and every gap therefore include the network, and the
  label says so: ``measured (remote: NAME, network included)``;
* usage from the server's final usage chunk when it sends one, else the chunks
  are counted and the label says that too;
* cost from the endpoint's chips x price per chip-hour at this reply's
  measured rates (an upper bound: a loaded server shares its chips between
  many streams; ``moe-console bench serve`` measures the shared rate);
* any failure (see :mod:`moe_console_remote.errors`) is one ``Failed`` line
  keeping the partial text. Nothing blocks the event loop; the timeouts are
  options (``connect_timeout_s``, ``read_timeout_s``), defaulting to the table's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, ClassVar

import httpx

from console.api import (
    Backend, BackendInfo, Capabilities, Cost, Event, Failed, Finished, Option, Request, Started, TextDelta,
    Timing, Usage,
)

from moe_console_remote.config import Endpoint
from moe_console_remote.detect import list_models
from moe_console_remote.errors import EndpointError
from moe_console_remote.sse import stream_json

_REASONS = {"stop": "stop", "length": "length", "eos": "stop", "tool_calls": "stop", "content_filter": "stop"}


def request_payload(request: Request, model: str, ignore_eos: bool = False) -> dict[str, Any]:
    """The chat-completions body: OpenAI fields, plus vLLM/SGLang extras only when they matter."""
    s = request.sampling
    payload: dict[str, Any] = {
        "model": model,
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
    for key, value, neutral in (("top_k", s.top_k, 0), ("min_p", s.min_p, 0.0),
                                ("repetition_penalty", s.repetition_penalty, 1.0), ("ignore_eos", ignore_eos, False)):
        if value != neutral:
            payload[key] = value
    return payload


def reply_cost(endpoint: Endpoint, timing: Timing, usage: Usage) -> Cost | None:
    """USD for this reply from chips x price per chip-hour and its measured rates (None without a price)."""
    if endpoint.price_usd_per_chip_hour is None:
        return None
    chips = endpoint.chips or 1
    usd_per_s = chips * endpoint.price_usd_per_chip_hour / 3600.0
    per_m_in = usd_per_s * timing.prefill_s / usage.prompt_tokens * 1e6 if usage.prompt_tokens else 0.0
    # seconds per token after the first, as TPOT: a chunk may carry several tokens (a busy
    # server sends what it has), so tokens come from usage, not from counting gaps
    after_first = usage.completion_tokens - 1 if usage.completion_tokens > 1 else len(timing.inter_token_s)
    per_m_out = usd_per_s * (timing.decode_s / after_first) * 1e6 if after_first else 0.0
    label = (f"{chips} chip(s) x {endpoint.price_usd_per_chip_hour} USD/chip-hour ([remote.{endpoint.name}]) "
             "at this reply's measured rates, network included; an upper bound when the server is shared")
    return Cost(input_usd=usage.prompt_tokens * per_m_in / 1e6, output_usd=usage.completion_tokens * per_m_out / 1e6,
                usd_per_m_input=per_m_in, usd_per_m_output=per_m_out,
                price_usd_per_chip_hour=endpoint.price_usd_per_chip_hour, label=label)


def server_timings_note(timings: Any) -> str:
    """llama-server's per-request ``timings`` as a short note ("" when absent)."""
    if not isinstance(timings, dict):
        return ""
    parts = []
    for key, what in (("prompt_per_second", "prefill"), ("predicted_per_second", "decode")):
        value = timings.get(key)
        if isinstance(value, (int, float)) and value > 0:
            parts.append(f"{what} {value:.1f} tok/s")
    return f"; server-side {', '.join(parts)} (llama-server timings)" if parts else ""


class RemoteBackend(Backend):
    """Base of the per-endpoint classes; ``endpoint`` is set by :func:`backend_class`."""

    endpoint: ClassVar[Endpoint]
    capabilities = Capabilities(cancel=True, routing_stats=False, modeled_timings=False, cost=False)

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._model: str = self.endpoint.model

    @property
    def label(self) -> str:
        return f"measured (remote: {self.endpoint.name}, network included)"

    def client(self) -> httpx.AsyncClient:
        """The connection pool, made for the running event loop (kept between replies)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            connect = self.settings["connect_timeout_s"]
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(
                connect=connect, read=self.settings["read_timeout_s"], write=connect, pool=connect))
            self._loop = loop
        return self._client

    async def _model_name(self) -> str:
        if not self._model:
            cards = await list_models(self.client(), self.endpoint.url, self.endpoint.headers())
            if not cards:
                raise EndpointError(f"{self.endpoint.url}/models lists no model; set model in [remote."
                                    f"{self.endpoint.name}]")
            self._model = cards[0].id
        return self._model

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        clock = time.monotonic
        start = clock()
        name = self.info.name
        yield Started(request.request_id, name, self._model or self.info.model, 0, at=0.0)
        text: list[str] = []
        times: list[float] = []
        usage: dict[str, Any] | None = None
        reason, timings = "stop", None
        url = self.endpoint.url.rstrip("/") + "/chat/completions"
        try:
            payload = request_payload(request, await self._model_name(), self.settings["ignore_eos"])
            async for chunk in stream_json(self.client(), url, payload, self.endpoint.headers(), clock=clock):
                data = chunk.data
                usage = data.get("usage") or usage
                timings = data.get("timings") or timings
                for choice in data.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        text.append(piece)
                        times.append(chunk.at)
                        yield TextDelta(piece, at=max(chunk.at - start, 0.0))
                    if choice.get("finish_reason"):
                        reason = _REASONS.get(choice["finish_reason"], choice["finish_reason"])
            if reason not in ("stop", "length"):
                raise EndpointError(f"{url}: the server ended the reply with finish_reason {reason!r}")
        except EndpointError as exc:
            note = self.endpoint.key_note() if exc.status == 401 else ""
            yield Failed(str(exc) + note, partial_text="".join(text), usage=Usage(0, len(times)),
                         at=max(clock() - start, times[-1] - start if times else 0.0))
            return
        end = clock()
        yield self._finished(reason, start, times, end, usage, timings)

    def _finished(self, reason: str, start: float, times: list[float], end: float,
                  usage: dict[str, Any] | None, timings: Any) -> Finished:
        label = self.label
        if usage and isinstance(usage.get("completion_tokens"), int):
            counted = Usage(int(usage.get("prompt_tokens") or 0), usage["completion_tokens"])
        else:
            counted = Usage(0, len(times))
            label += "; tokens counted from the stream's chunks (the server sent no usage)"
        label += server_timings_note(timings)
        gaps = tuple(b - a for a, b in zip(times, times[1:]))
        ttft = (times[0] if times else end) - start
        timing = Timing(ttft_s=ttft, e2e_s=end - start, inter_token_s=gaps, prefill_s=ttft,
                        decode_s=sum(gaps), label=label)
        return Finished(reason, counted, timing, cost=reply_cost(self.endpoint, timing, counted), at=end - start)

    async def aclose(self) -> None:
        if self._client is not None:
            try:
                await self._client.aclose()
            except RuntimeError:
                pass  # its event loop is gone; the sockets went with it
            self._client = None


def backend_class(endpoint: Endpoint) -> type[RemoteBackend]:
    """A Backend subclass for one endpoint: its own name, info and timeout options."""
    declared = f"{endpoint.hardware} (declared)" if endpoint.hardware else "undeclared"
    if endpoint.chips:
        declared += f", {endpoint.chips} chips"
    info = BackendInfo(
        name=endpoint.name, display_name=f"{endpoint.name} (remote)", kind="remote", hardware=declared,
        model=endpoint.model or "the server's first model",
        description=f"OpenAI-compatible endpoint {endpoint.url}; timings measured on arrival, network included.",
    )
    options = (
        Option("connect_timeout_s", "float", endpoint.connect_timeout_s,
               "seconds to wait for a connection before the reply fails", minimum=0.01),
        Option("read_timeout_s", "float", endpoint.read_timeout_s,
               "longest silence from the server mid-reply before it fails (a hung server)", minimum=0.01),
        Option("ignore_eos", "bool", False, "ask the server to generate past end-of-text up to max tokens"),
    )
    capabilities = Capabilities(cancel=True, cost=endpoint.price_usd_per_chip_hour is not None)
    safe = "".join(c if c.isalnum() else "_" for c in endpoint.name)
    return type(f"RemoteBackend_{safe}", (RemoteBackend,),
                {"info": info, "options": options, "endpoint": endpoint, "capabilities": capabilities,
                 "__module__": __name__})

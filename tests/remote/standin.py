"""A stand-in for endpoints we cannot run here: a real Starlette app on a real uvicorn server.

It stands in for a *misbehaving* endpoint (500s, SGLang's flat error body, a
stream cut mid-way, malformed SSE, a stall) and for *foreign* servers (vLLM,
SGLang, llama.cpp: their ``owned_by`` and metric names), which a real
``moe-console serve`` cannot be made to be. Everything our own server can do
is tested against it instead (tests/remote/served.py). It speaks the same wire
format over real HTTP on a free loopback port, but its "model" only echoes
words. A token is a word with the space before it (``\\s*\\S+``);
``/tokenize`` counts the same way.

Routes: ``POST /v1/chat/completions`` and ``/v1/completions`` (SSE streaming,
``stream_options.include_usage``, ``ignore_eos`` + ``max_tokens``, ``seed``
accepted), ``GET /v1/models`` (``owned_by`` as configured), ``/version``,
``/health``, ``POST /tokenize`` (vLLM's shape) and ``GET /metrics``
(prometheus_client, vLLM's metric names, fed by the requests it served).

Failure modes, chosen by the request's ``model``: ``fail-401`` / ``fail-404``
/ ``fail-500`` (vLLM's nested error body), ``fail-429`` (SGLang's flat body),
``cut`` (two chunks, then the connection is dropped mid-body), ``malformed``
(a data line that is not JSON), ``error-midstream`` (an error object inside the
stream), ``stall`` (one chunk, then silence until the client gives up).
With ``api_key`` set, a request without ``Authorization: Bearer <key>`` gets 401.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

PIECE = re.compile(r"\s*\S+")
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma "
         "tau upsilon phi chi psi omega").split()


def tokens(text: str) -> list[str]:
    return PIECE.findall(text)


def _stop_at(text: str, stops: list[str]) -> int | None:
    """Where ``text`` must end for the earliest stop string in it (``None``: no stop)."""
    found = [text.find(stop) for stop in stops if stop and stop in text]
    return min(found) if found else None


def vllm_error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": status}}, status)


class StandIn:
    """``with StandIn() as s: s.base_url`` -> ``http://127.0.0.1:PORT/v1``.

    ``token_delay_s``: pause before each streamed token. ``owned_by``: what
    ``/v1/models`` says (servers are told apart by it)."""

    def __init__(self, *, token_delay_s: float = 0.002, owned_by: str = "vllm", model: str = "standin",
                 api_key: str | None = None, version: str = "0.0-standin") -> None:
        self.token_delay_s, self.owned_by, self.model = token_delay_s, owned_by, model
        self.api_key, self.version = api_key, version
        self._metrics()
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.completions, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/models", self.models),
            Route("/version", lambda r: JSONResponse({"version": self.version})),
            Route("/health", lambda r: Response(status_code=200)),
            Route("/tokenize", self.tokenize, methods=["POST"]),
            Route("/metrics", lambda r: Response(generate_latest(self.registry),
                                                 media_type="text/plain; version=0.0.4")),
        ])

    def _metrics(self) -> None:
        r = self.registry = CollectorRegistry()
        labels = ["model_name", "engine"]
        self.m_running = Gauge("vllm:num_requests_running", "running", labels, registry=r)
        self.m_waiting = Gauge("vllm:num_requests_waiting", "waiting", labels, registry=r)
        self.m_kv = Gauge("vllm:kv_cache_usage_perc", "kv", labels, registry=r)
        self.m_prompt = Counter("vllm:prompt_tokens", "prompt", labels, registry=r)
        self.m_gen = Counter("vllm:generation_tokens", "gen", labels, registry=r)
        self.m_success = Counter("vllm:request_success", "ok", labels + ["finished_reason"], registry=r)
        self.m_ttft = Histogram("vllm:time_to_first_token_seconds", "ttft", labels, registry=r,
                                buckets=(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0))
        self.m_itl = Histogram("vllm:inter_token_latency_seconds", "itl", labels, registry=r,
                               buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0))
        self.m_e2e = Histogram("vllm:e2e_request_latency_seconds", "e2e", labels, registry=r,
                               buckets=(0.01, 0.05, 0.1, 0.3, 0.5, 1.0, 5.0))
        self._labels = {"model_name": self.model, "engine": "0"}
        for reason in ("stop", "length", "abort"):
            self.m_success.labels(**self._labels, finished_reason=reason)

    # ------------------------------------------------------------------ routes
    def _unauthorized(self, request: Request) -> Response | None:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return vllm_error(401, "Unauthorized", "authentication_error")
        return None

    async def models(self, request: Request) -> Response:
        return self._unauthorized(request) or JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "owned_by": self.owned_by, "max_model_len": 4096}]})

    async def tokenize(self, request: Request) -> Response:
        body = await request.json()
        ids = [hash(t) % 50000 for t in tokens(body.get("prompt", ""))]
        return JSONResponse({"count": len(ids), "max_model_len": 4096, "tokens": ids})

    async def completions(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused:
            return refused
        body = await request.json()
        model = body.get("model", "")
        if model == "fail-401":
            return vllm_error(401, "Invalid API key", "authentication_error")
        if model == "fail-429":
            return JSONResponse({"object": "error", "message": "server is at capacity", "type": "overloaded",
                                 "param": None, "code": 429}, 429)
        if model == "fail-500":
            return vllm_error(500, "engine crashed", "InternalServerError")
        if model not in (self.model, "cut", "malformed", "stall", "error-midstream"):
            return vllm_error(404, f"The model `{model}` does not exist.", "NotFoundError")
        chat = request.url.path.endswith("/chat/completions")
        prompt = " ".join(m["content"] for m in body["messages"]) if chat else body.get("prompt", "")
        return StreamingResponse(self._events(body, chat, prompt, model), media_type="text/event-stream")

    async def _events(self, body: dict[str, Any], chat: bool, prompt: str, mode: str):
        n_prompt = len(tokens(prompt))
        limit = int(body.get("max_tokens") or 16)
        words = [w.strip() for w in tokens(prompt)] or WORDS
        if not body.get("ignore_eos"):
            limit = min(limit, len(words))
        start = time.monotonic()
        self.m_running.labels(**self._labels).inc()
        self.m_prompt.labels(**self._labels).inc(n_prompt)
        finished, last, sent = "abort", start, 0
        text, stops = "", [body["stop"]] if isinstance(body.get("stop"), str) else list(body.get("stop") or [])

        def chunk(piece: str | None, reason: str | None = None) -> str:
            choice: dict[str, Any] = {"index": 0, "finish_reason": reason}
            if chat:
                choice["delta"] = {"content": piece} if piece is not None else {}
            else:
                choice["text"] = piece or ""
            obj = {"id": "cmpl-1", "object": "chat.completion.chunk" if chat else "text_completion",
                   "created": int(time.time()), "model": self.model, "choices": [choice]}
            return f"data: {json.dumps(obj)}\n\n"

        try:
            if chat:
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'role': 'assistant'}}], 'model': self.model})}\n\n"
            cut = None
            for i in range(limit):
                await asyncio.sleep(self.token_delay_s)
                now = time.monotonic()
                if i == 0:
                    self.m_ttft.labels(**self._labels).observe(now - start)
                else:
                    self.m_itl.labels(**self._labels).observe(now - last)
                last = now
                sent += 1
                self.m_gen.labels(**self._labels).inc()
                piece = ("" if i == 0 else " ") + words[i % len(words)]
                cut = _stop_at(text + piece, stops)
                if cut is not None:  # as vLLM: the text ends before the stop string
                    if cut > len(text):
                        yield chunk((text + piece)[len(text):cut])
                    break
                text += piece
                yield chunk(piece)
                if mode == "cut" and i == 1:
                    raise ConnectionResetError("stand-in drops the connection mid-stream")
                if mode == "malformed" and i == 1:
                    yield "data: {this is not json\n\n"
                if mode == "error-midstream" and i == 1:
                    yield f"data: {json.dumps({'error': {'message': 'out of KV blocks', 'type': 'InternalServerError', 'code': 500}})}\n\n"
                if mode == "stall":
                    await asyncio.sleep(3600)
            finished = "length" if sent == int(body.get("max_tokens") or 16) and cut is None else "stop"
            yield chunk(None, finished)
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"prompt_tokens": n_prompt, "completion_tokens": sent, "total_tokens": n_prompt + sent}
                yield f"data: {json.dumps({'choices': [], 'usage': usage, 'model': self.model})}\n\n"
            yield "data: [DONE]\n\n"
        finally:
            self.m_e2e.labels(**self._labels).observe(time.monotonic() - start)
            self.m_success.labels(**self._labels, finished_reason=finished).inc()
            self.m_running.labels(**self._labels).dec()

    # --------------------------------------------------------------- lifecycle
    def __enter__(self) -> StandIn:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="critical", lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the stand-in server did not start")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.root = f"http://127.0.0.1:{port}"
        self.base_url = self.root + "/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)

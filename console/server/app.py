"""The Starlette app: routes, error rendering, the model load at startup.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions`` (see :mod:`.completions`),
``GET /v1/models``, ``GET /health`` (200 once the model is loaded, 503 before and while
shutting down), ``POST /tokenize``, ``POST /detokenize`` (vLLM's), ``GET /metrics``,
``GET /version``. Every error, including unknown paths and methods, is a JSON body in vLLM's
shape; an unexpected failure is a 500 with a one-line message (the traceback goes to the
server's log, never to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import disable_created_metrics
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console import __version__
from console.engine import EngineError

from .bridge import EngineBridge
from .completions import Completions
from .errors import APIError, error_body
from .guard import DEFAULT_MAX_BODY_BYTES, KeyGuard
from .metrics import CONTENT_TYPE, ServerMetrics
from .tokens import Tokens

log = logging.getLogger("moe_console.server")


def create_app(bridge: EngineBridge, *, api_key: str | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, load_on_startup: bool = True):
    """The ASGI app over ``bridge``. With ``load_on_startup`` the model loads in a thread when
    the server starts (``/health`` answers 503 meanwhile); ``bridge.load()`` otherwise."""
    disable_created_metrics()
    metrics = ServerMetrics(bridge)
    completions = Completions(bridge, metrics, max_body_bytes)
    tokens = Tokens(bridge, max_body_bytes)
    started = int(time.time())

    async def models(request: Request):
        facts = bridge.check_ready()
        return JSONResponse({"object": "list", "data": [{
            "id": facts.name, "object": "model", "created": started, "owned_by": "moe-console",
            "root": facts.name, "parent": None, "max_model_len": facts.context_window}]})

    async def health(request: Request):
        bridge.check_ready()
        return Response(status_code=200)

    async def scrape(request: Request):
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def version(request: Request):
        return JSONResponse({"version": __version__, "server": "moe-console"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(asyncio.to_thread(_load, bridge)) if load_on_startup else None
        try:
            yield
        finally:
            bridge.begin_shutdown()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(bridge.close)

    routes = [
        Route("/v1/chat/completions", completions.chat, methods=["POST"]),
        Route("/v1/completions", completions.completion, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/tokenize", tokens.tokenize, methods=["POST"]),
        Route("/detokenize", tokens.detokenize, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        APIError: _on_api_error, HTTPException: _on_http_error, Exception: _on_crash})
    app.state.bridge, app.state.metrics = bridge, metrics
    return KeyGuard(app, api_key)


async def _on_api_error(request: Request, exc: APIError):
    return exc.response()


async def _on_http_error(request: Request, exc: HTTPException):
    messages = {404: f"no route {request.url.path[:200]}", 405: f"method {request.method} is not allowed here"}
    return JSONResponse(error_body(exc.status_code, messages.get(exc.status_code, str(exc.detail))),
                        status_code=exc.status_code)


async def _on_crash(request: Request, exc: Exception):
    log.exception("unexpected failure on %s %s", request.method, request.url.path)
    return JSONResponse(error_body(500, f"internal error ({type(exc).__name__}); see the server log"),
                        status_code=500)


def _load(bridge: EngineBridge) -> None:
    try:
        bridge.load()
    except EngineError as exc:
        log.error("cannot load the model: %s", exc)

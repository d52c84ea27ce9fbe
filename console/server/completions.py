"""``POST /v1/chat/completions`` and ``POST /v1/completions``: streamed (SSE) or whole replies.

A streamed reply sends (chat) a first chunk with the assistant role, one chunk per wake-up
with the text produced since the last (one token at a time unless the client reads slower than
the engine produces), a chunk with the ``finish_reason`` (``stop``, ``length``, ``shutdown``
when the server is stopping), with ``stream_options.include_usage`` a chunk with the usage,
then ``data: [DONE]``. A client that goes away cancels its request: the loop frees the
sequence at its next step. An engine failure mid-stream is sent as an error event (the
status line is gone by then), never a traceback.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from console.engine import EngineError

from . import sse
from .bridge import EngineBridge
from .errors import APIError, error_body
from .guard import read_body
from .metrics import ServerMetrics
from .parse import json_object, parse_generation
from .replies import ReplyShape, usage


class Completions:
    def __init__(self, bridge: EngineBridge, metrics: ServerMetrics, max_body_bytes: int) -> None:
        self.bridge, self.metrics, self.max_body_bytes = bridge, metrics, max_body_bytes

    async def chat(self, request: Request):
        return await self._handle(request, chat=True)

    async def completion(self, request: Request):
        return await self._handle(request, chat=False)

    async def _handle(self, request: Request, *, chat: bool):
        arrival = time.monotonic()
        facts = self.bridge.check_ready()
        body = json_object(await read_body(request, self.max_body_bytes))
        parsed = parse_generation(body, facts, chat=chat)
        handle = self.bridge.submit(parsed)
        shape = ReplyShape(facts.name, chat)
        if parsed.stream:
            return StreamingResponse(self._events(handle, shape, parsed.include_usage, arrival),
                                     media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
        return await self._whole(request, handle, shape, arrival)

    def _usage(self, handle) -> dict:
        return usage(handle.prompt_tokens, handle.completion_tokens, handle.cached_tokens)

    def _end(self, handle, arrival: float) -> str:
        self.bridge.release(handle)
        reason = self.bridge.finish_reason(handle)
        self.metrics.record(handle, arrival, reason)
        return reason

    async def _events(self, handle, shape: ReplyShape, include_usage: bool, arrival: float):
        ended = False
        try:
            if shape.chat:
                yield sse.event(shape.chunk("", first=True, usage_field=include_usage))
            try:
                async for piece in self.bridge.pieces(handle):
                    self.metrics.observe_gaps(piece.gaps)
                    if piece.text:
                        yield sse.event(shape.chunk(piece.text, usage_field=include_usage))
            except EngineError as exc:
                ended = True
                self._end(handle, arrival)
                yield sse.event(error_body(500, f"engine error: {exc}"))
                yield sse.DONE
                return
            ended = True
            reason = self._end(handle, arrival)
            yield sse.event(shape.chunk(None, reason, usage_field=include_usage))
            if include_usage:
                yield sse.event(shape.usage_chunk(self._usage(handle)))
            yield sse.DONE
        finally:
            if not ended:              # the client went away (or the server is cancelling us)
                self._end(handle, arrival)

    async def _whole(self, request: Request, handle, shape: ReplyShape, arrival: float) -> JSONResponse:
        watcher = asyncio.create_task(_cancel_on_disconnect(request, handle))
        parts, error = [], None
        try:
            async for piece in self.bridge.pieces(handle):
                self.metrics.observe_gaps(piece.gaps)
                parts.append(piece.text)
        except EngineError as exc:
            error = exc
        finally:
            watcher.cancel()
            reason = self._end(handle, arrival)
        if error is not None:
            raise APIError(500, f"engine error: {error}")
        return JSONResponse(shape.whole("".join(parts), reason, self._usage(handle)))


async def _cancel_on_disconnect(request: Request, handle) -> None:
    """Cancel ``handle`` when the client disconnects (the body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            handle.cancel()
            return

"""Who may call, and how much they may send.

:class:`KeyGuard` (ASGI middleware): when the server has an API key, every route except
``/health``, ``/metrics`` and ``/version`` (as in vLLM) needs ``Authorization: Bearer <key>``;
the key is compared in constant time and never logged. :func:`read_body` reads a request body
up to a byte limit (413 beyond it, whether announced by Content-Length or not).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from .errors import APIError

OPEN_PATHS = frozenset({"/health", "/metrics", "/version"})
DEFAULT_MAX_BODY_BYTES = 4 * 2**20


class KeyGuard:
    def __init__(self, app, api_key: str | None) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self._key is not None and scope.get("path") not in OPEN_PATHS:
            if not self._authorized(scope):
                await APIError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'"
                               ).response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _authorized(self, scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)
        return False


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"the request body is {int(declared)} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

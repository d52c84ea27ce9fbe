"""One readable line for every way an OpenAI-compatible endpoint can fail.

Transport failures (refused, DNS, TLS, timeouts, a stream cut mid-way) come as
httpx exceptions; HTTP failures as a status and a body in one of the two error
shapes servers use: vLLM's and llama-server's nested ``{"error": {"message",
"type", "code"}}`` and SGLang's flat ``{"object": "error", "message", ...}``.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import httpx

#: What a status means to a user, beside the server's own message.
_STATUS_HINTS = {
    400: "bad request",
    401: "unauthorized: check the API key (api_key_env)",
    403: "forbidden: the key is not allowed here",
    404: "not found: check the URL (it should end in /v1) and the model name",
    413: "request too large",
    422: "request rejected",
    429: "too many requests: the server is at capacity, retry later",
    500: "server error",
    501: "not implemented by this server",
    502: "bad gateway",
    503: "service unavailable: the server is starting, overloaded or shutting down",
    504: "gateway timeout",
}


class EndpointError(Exception):
    """An endpoint failed; ``str(exc)`` is one line fit for the user.
    ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status


def error_message(body: Any) -> str | None:
    """The message of an error body in either shape, or None if ``body`` is no error."""
    if not isinstance(body, dict):
        return None
    nested = body.get("error")
    if isinstance(nested, dict):
        message = nested.get("message") or nested.get("type") or json.dumps(nested)[:200]
        kind = nested.get("type")
        return f"{message} ({kind})" if kind and kind not in str(message) else str(message)
    if isinstance(nested, str):
        return nested
    if body.get("object") == "error":
        message = body.get("message") or body.get("type") or "error"
        kind = body.get("type")
        return f"{message} ({kind})" if kind and kind not in str(message) else str(message)
    return None


def http_error(status: int, body: bytes, url: str) -> EndpointError:
    """An :class:`EndpointError` for a non-2xx answer."""
    text = body.decode("utf-8", "replace").strip()
    try:
        detail = error_message(json.loads(text)) or text
    except ValueError:
        detail = text
    detail = " ".join(detail.split())[:300]
    hint = _STATUS_HINTS.get(status, "server error" if status >= 500 else "client error")
    return EndpointError(f"{url}: HTTP {status} {hint}" + (f": {detail}" if detail else ""), status)


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def transport_error(exc: Exception, url: str) -> EndpointError:
    """An :class:`EndpointError` for an httpx transport exception."""
    chain = list(_causes(exc))
    if any(isinstance(e, (ssl.SSLError, ssl.CertificateError)) for e in chain) or "SSL" in str(exc):
        reason = next((str(e) for e in chain if isinstance(e, ssl.SSLError)), str(exc))
        return EndpointError(f"{url}: TLS error: {reason}")
    if any(isinstance(e, socket.gaierror) for e in chain) or "Name or service not known" in str(exc):
        host = httpx.URL(url).host
        return EndpointError(f"{url}: DNS lookup failed: no such host {host!r}")
    if isinstance(exc, httpx.ConnectTimeout):
        return EndpointError(f"{url}: timed out connecting (connect_timeout_s)")
    if isinstance(exc, httpx.ReadTimeout):
        return EndpointError(f"{url}: the server sent nothing for too long (read_timeout_s); "
                             "it may be hung or overloaded")
    if isinstance(exc, (httpx.WriteTimeout, httpx.PoolTimeout)):
        return EndpointError(f"{url}: timed out sending the request")
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in str(exc).lower() \
                or "All connection attempts failed" in str(exc):
            return EndpointError(f"{url}: connection refused: nothing is listening there")
        return EndpointError(f"{url}: cannot connect: {exc}")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return EndpointError(f"{url}: the connection was cut mid-reply ({exc or type(exc).__name__})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return EndpointError(f"{url}: not an http(s) URL")
    return EndpointError(f"{url}: {type(exc).__name__}: {exc}")

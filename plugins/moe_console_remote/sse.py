"""Server-sent events from an OpenAI-compatible streaming endpoint, timestamped on arrival.

:func:`stream_json` POSTs a JSON body with httpx and yields every ``data:``
message as a :class:`Chunk` holding the parsed JSON and ``at``, the
``time.monotonic()`` reading taken as its line came off the socket (so TTFT and
every inter-token gap are measured where the tokens arrive, network included).

It raises :class:`~moe_console_remote.errors.EndpointError` (one line) for every
failure: transport errors, non-2xx answers (both error-body shapes), an error
object sent inside the stream, data that is not JSON, and a stream that ends
before ``data: [DONE]`` without any ``finish_reason`` (cut mid-way). Closing the
generator closes the response, which is how the server learns of a cancel.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import httpx

from moe_console_remote.errors import EndpointError, error_message, http_error, transport_error


@dataclass(frozen=True)
class Chunk:
    """One SSE ``data:`` message: its JSON object and its arrival time."""

    data: dict[str, Any]
    at: float


def _finished(data: dict[str, Any]) -> bool:
    return any(isinstance(c, dict) and c.get("finish_reason") for c in data.get("choices") or ())


async def stream_json(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any], headers: dict[str, str] | None = None,
    *, clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[Chunk]:
    """POST ``payload`` to ``url`` and yield its SSE JSON messages (see the module doc)."""
    finished = False
    try:
        async with client.stream("POST", url, json=payload,
                                 headers={"Accept": "text/event-stream", **(headers or {})}) as response:
            if response.status_code >= 400:
                raise http_error(response.status_code, await response.aread(), url)
            kind = response.headers.get("content-type", "")
            if "text/event-stream" not in kind:
                body = await response.aread()
                try:
                    message = error_message(json.loads(body))
                except ValueError:
                    message = None
                raise EndpointError(f"{url}: " + (message or f"expected a text/event-stream answer, got "
                                                              f"{kind or 'no content type'}"))
            lines: list[str] = []
            arrived = 0.0
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    if not lines:
                        arrived = clock()
                    lines.append(line[5:].removeprefix(" "))
                    continue
                if line.startswith(":") or line.startswith(("event:", "id:", "retry:")):
                    continue  # comments (keep-alives) and fields we do not use
                if line.strip():
                    raise EndpointError(f"{url}: malformed SSE: unexpected line {line[:80]!r}")
                if not lines:
                    continue
                text, lines = "\n".join(lines), []
                if text.strip() == "[DONE]":
                    return
                try:
                    data = json.loads(text)
                except ValueError:
                    raise EndpointError(f"{url}: malformed SSE: data is not JSON: {text[:80]!r}") from None
                if not isinstance(data, dict):
                    raise EndpointError(f"{url}: malformed SSE: data is not a JSON object: {text[:80]!r}")
                problem = error_message(data)
                if problem is not None:
                    raise EndpointError(f"{url}: the server reported an error mid-stream: {problem}")
                finished = finished or _finished(data)
                yield Chunk(data, arrived)
            if not finished:
                raise EndpointError(f"{url}: the stream ended before the reply was complete (cut mid-way)")
    except httpx.HTTPError as exc:
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)) and finished:
            return  # the reply was complete; only the closing of the stream was untidy
        raise transport_error(exc, url) from None

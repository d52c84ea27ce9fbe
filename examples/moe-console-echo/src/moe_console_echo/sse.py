"""Server-Sent Events from an OpenAI-style streaming endpoint, over httpx.

httpx (a well-kept async HTTP client) does the HTTP: TLS, chunked bodies,
timeouts, connection reuse. This module only reads the ``data:`` lines of
the event stream. Closing the generator closes the response, which is how a
server learns that a reply was cancelled.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import httpx


class HTTPError(Exception):
    """The server answered with an error status, or could not be reached; one line."""


def _root_cause(exc: BaseException) -> BaseException:
    while (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


async def post_events(
    url: str, payload: dict[str, Any], headers: dict[str, str], timeout_s: float
) -> AsyncIterator[dict[str, Any]]:
    """POST ``payload`` as JSON to ``url`` and yield each SSE ``data:`` JSON
    object until ``[DONE]`` or the end of the body."""
    if not url.startswith(("http://", "https://")):
        raise HTTPError(f"base_url must be an http(s) URL, got {url!r}")
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            async with client.stream("POST", url, json=payload,
                                     headers={"Accept": "text/event-stream", **headers}) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode("utf-8", "replace")[:300]
                    try:
                        text = json.loads(text).get("error", {}).get("message", text)
                    except (ValueError, AttributeError):
                        pass
                    status = f"{response.http_version} {response.status_code} {response.reason_phrase}"
                    raise HTTPError(f"server answered {status}: {' '.join(str(text).split())}")
                data: list[str] = []
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                    elif not line and data:
                        joined, data = "\n".join(data), []
                        if joined.strip() == "[DONE]":
                            return
                        yield json.loads(joined)
    except httpx.TimeoutException:
        raise TimeoutError(f"no answer within {timeout_s} s") from None
    except httpx.HTTPError as exc:
        raise HTTPError(str(_root_cause(exc)) or type(exc).__name__) from None

"""A small asyncio client for Server-Sent Events over HTTP/1.1 POST.

Enough for OpenAI-style streaming endpoints: plain or chunked bodies, ``http``
and ``https``, one request per connection. Closing the generator closes the
socket, which is how a server learns that a reply was cancelled.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, AsyncIterator
from urllib.parse import urlsplit


class HTTPError(Exception):
    """The server answered with an error status; the message is one line."""


async def _read(coro: Any, timeout_s: float) -> Any:
    return await asyncio.wait_for(coro, timeout_s)


async def _body_lines(reader: asyncio.StreamReader, chunked: bool, timeout_s: float) -> AsyncIterator[str]:
    buffer = b""
    while True:
        if chunked:
            size_line = await _read(reader.readline(), timeout_s)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            data = await _read(reader.readexactly(size + 2), timeout_s)
            buffer += data[:-2]
        else:
            data = await _read(reader.read(65536), timeout_s)
            if not data:
                break
            buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8")
    yield ""


async def post_events(
    url: str, payload: dict[str, Any], headers: dict[str, str], timeout_s: float
) -> AsyncIterator[dict[str, Any]]:
    """POST ``payload`` as JSON to ``url`` and yield each SSE ``data:`` JSON
    object until ``[DONE]`` or the end of the body."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HTTPError(f"base_url must be an http(s) URL, got {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    reader, writer = await _read(
        asyncio.open_connection(parts.hostname, port, ssl=ssl.create_default_context() if secure else None),
        timeout_s,
    )
    try:
        body = json.dumps(payload).encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}:{port}",
                "Content-Type: application/json", "Accept: text/event-stream",
                f"Content-Length: {len(body)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status_line = (await _read(reader.readline(), timeout_s)).decode("latin-1").strip()
        fields = status_line.split(" ", 2)
        status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        response_headers: dict[str, str] = {}
        while (line := (await _read(reader.readline(), timeout_s)).decode("latin-1").strip()):
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        chunked = "chunked" in response_headers.get("transfer-encoding", "").lower()
        if status != 200:
            text = "".join([line async for line in _body_lines(reader, chunked, timeout_s)])[:300]
            try:
                text = json.loads(text).get("error", {}).get("message", text)
            except (ValueError, AttributeError):
                pass
            raise HTTPError(f"server answered {status_line or 'nothing'}: {' '.join(str(text).split())}")
        data: list[str] = []
        async for line in _body_lines(reader, chunked, timeout_s):
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and data:
                joined, data = "\n".join(data), []
                if joined.strip() == "[DONE]":
                    return
                yield json.loads(joined)
    finally:
        writer.close()

"""Every error class of a misbehaving endpoint becomes one ``Failed`` line keeping the partial reply.

A real ``moe-console serve`` cannot be made to crash with a 500, answer in
SGLang's flat error shape, cut a stream, send malformed SSE or stall, so these
run against the stand-in (standin.py: a real Starlette/uvicorn server on a
loopback port that misbehaves on request). Transport errors need no server
(refused, DNS) or any plain-HTTP one (TLS). The 401 and 404 of a real server are in
test_remote_backend.py.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from console.api import Failed, Message, Request, Sampling, TextDelta
from console.testing import check_events, collect
from moe_console_remote.backend import backend_class
from moe_console_remote.config import Endpoint


def backend_for(url: str, **table):
    endpoint = Endpoint(name=table.pop("name", "gpu"), url=url, **table)
    return backend_class(endpoint)()


def ask(text: str = "one two three four five six", max_tokens: int = 6) -> Request:
    return Request(messages=(Message("user", text),), sampling=Sampling(max_tokens=max_tokens, temperature=0.0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("model, expected", [
    ("fail-401", "HTTP 401 unauthorized: check the API key (api_key_env): Invalid API key (authentication_error)"),
    ("fail-404", "HTTP 404 not found: check the URL (it should end in /v1) and the model name: "
                 "The model `fail-404` does not exist. (NotFoundError)"),
    ("fail-429", "HTTP 429 too many requests: the server is at capacity, retry later: "
                 "server is at capacity (overloaded)"),
    ("fail-500", "HTTP 500 server error: engine crashed (InternalServerError)"),
    ("cut", "the connection was cut mid-reply"),
    ("malformed", "malformed SSE: data is not JSON: '{this is not json'"),
    ("error-midstream", "the server reported an error mid-stream: out of KV blocks (InternalServerError)"),
    ("stall", "the server sent nothing for too long (read_timeout_s); it may be hung or overloaded"),
])
async def test_every_error_class_is_one_failed_line_keeping_the_partial_reply(standin, model, expected):
    backend = backend_for(standin.base_url, model=model, read_timeout_s=0.3)
    request = ask()
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    failed = events[-1]
    assert isinstance(failed, Failed) and expected in failed.error and "\n" not in failed.error
    partial = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert failed.partial_text == partial
    if model in ("cut", "malformed", "error-midstream"):
        assert partial == "one two"
    if model == "stall":
        assert partial == "one"


async def test_transport_errors():
    refused = await collect(backend_for(f"http://127.0.0.1:{free_port()}/v1", model="m").stream(ask()))
    assert "connection refused: nothing is listening there" in refused[-1].error
    dns = await collect(backend_for("http://no-such-host.invalid/v1", model="m").stream(ask()))
    assert "DNS lookup failed: no such host 'no-such-host.invalid'" in dns[-1].error


async def test_tls_error_is_named(served):
    """TLS spoken to a plain-HTTP server (our own serve)."""
    tls = await collect(backend_for(served.url.replace("http://", "https://"), model="m",
                                    connect_timeout_s=2).stream(ask()))
    assert "TLS error" in tls[-1].error


async def test_a_hung_server_does_not_block_the_event_loop(standin):
    backend = backend_for(standin.base_url, model="stall", read_timeout_s=1.0)
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    events = await collect(backend.stream(ask()))
    beat.cancel()
    assert isinstance(events[-1], Failed) and ticks > 30  # the loop kept running for the whole second

"""The ``remote`` backend against real loopback servers (the stand-in, see standin.py).

Streaming, cancel mid-stream (the server sees the disconnect), every error
class, a backend switch mid-conversation between ``local`` and ``remote``
through console.conversation, and the plugin wiring from settings tables.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from console.api import Failed, Finished, Message, Request, Sampling, Started, TextDelta
from console.plugins import PluginHost
from console.testing import BackendConformance, check_events, collect
from moe_console_remote.backend import backend_class
from moe_console_remote.config import Endpoint, parse_endpoints
from standin import StandIn


def backend_for(url: str, **table):
    endpoint = Endpoint(name=table.pop("name", "gpu"), url=url, **table)
    return backend_class(endpoint)()


def ask(text: str = "one two three four five six", max_tokens: int = 4) -> Request:
    return Request(messages=(Message("user", text),), sampling=Sampling(max_tokens=max_tokens, temperature=0.0))


class TestConformance(BackendConformance):
    """The plugin API's conformance kit, against the stand-in."""

    prompt = "one two three four five six seven eight nine ten eleven twelve"

    @pytest.fixture(autouse=True)
    def _server(self):
        with StandIn(token_delay_s=0.005) as server:
            self.server = server
            self.backend_class = backend_class(Endpoint("gpu", server.base_url, model="standin", chips=8,
                                                        price_usd_per_chip_hour=2.35))
            self.options = {}
            yield

    async def assert_idle(self, backend):
        assert await asyncio.to_thread(self.server.idle.wait, 5), "the server still streams after the cancel"


async def test_streams_measures_on_arrival_and_reads_usage(standin):
    backend = backend_for(standin.base_url, model="standin", chips=8, price_usd_per_chip_hour=2.35)
    request = ask(max_tokens=4)
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "one two three four"
    done = events[-1]
    assert isinstance(done, Finished) and done.reason == "length"
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (6, 4)
    assert done.timing.label == "measured (remote: gpu, network included)"
    assert len(done.timing.inter_token_s) == 3
    gaps = done.timing.inter_token_s
    assert sum(gaps) / len(gaps) >= standin.token_delay_s * 0.6  # real gaps, paced by the server
    assert done.cost is not None and done.cost.usd_per_m_output == pytest.approx(
        8 * 2.35 / 3600 * done.timing.decode_s / 3 * 1e6)
    sent = standin.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    await backend.aclose()


async def test_without_usage_tokens_are_counted_and_said_so(standin, monkeypatch):
    backend = backend_for(standin.base_url, model="standin")
    from moe_console_remote import backend as module

    real = module.request_payload
    monkeypatch.setattr(module, "request_payload", lambda *a: {**real(*a), "stream_options": {}})
    events = await collect(backend.stream(ask(max_tokens=3)))
    assert events[-1].usage.completion_tokens == 3
    assert "tokens counted from the stream's chunks (the server sent no usage)" in events[-1].timing.label


async def test_model_defaults_to_the_servers_first(standin):
    backend = backend_for(standin.base_url)
    events = await collect(backend.stream(ask(max_tokens=2)))
    assert isinstance(events[-1], Finished) and standin.requests[-1]["model"] == "standin"


async def test_cancel_mid_stream_frees_the_server(standin):
    standin.token_delay_s = 0.02
    backend = backend_for(standin.base_url, model="standin")
    stream = backend.stream(ask(max_tokens=200))
    seen = [event async for event in _take(stream, 3)]
    assert isinstance(seen[0], Started) and standin.active == 1
    await stream.aclose()
    assert await asyncio.to_thread(standin.idle.wait, 5) and standin.disconnects == 1
    events = await collect(backend.stream(ask(max_tokens=2)))  # and it serves again
    assert isinstance(events[-1], Finished)


async def _take(stream, n):
    async for event in stream:
        yield event
        n -= 1
        if n == 0:
            return


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
    request = ask(max_tokens=6)
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


async def test_tls_error_is_named(standin):
    tls = await collect(backend_for(standin.base_url.replace("http://", "https://"), model="m",
                                    connect_timeout_s=2).stream(ask()))
    assert "TLS error" in tls[-1].error


async def test_401_names_the_unset_key_variable(monkeypatch):
    monkeypatch.delenv("MOE_TEST_KEY", raising=False)
    with StandIn(api_key="sekrit") as server:
        backend = backend_for(server.base_url, model="standin", api_key_env="MOE_TEST_KEY")
        failed = (await collect(backend.stream(ask())))[-1]
        assert "HTTP 401" in failed.error and "(environment variable MOE_TEST_KEY is not set)" in failed.error
        monkeypatch.setenv("MOE_TEST_KEY", "sekrit")
        assert isinstance((await collect(backend.stream(ask())))[-1], Finished)


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


def test_settings_tables_become_backends_and_bad_ones_are_reported():
    host = PluginHost.discover(config={"remote": {
        "h100-vllm": {"url": "http://127.0.0.1:9/v1", "hardware": "h100", "chips": 8},
        "ascend": {"url": "http://127.0.0.1:10/v1", "read_timeout_s": 7.5},
        "broken": {"url": "ftp://x"},
        "typo": {"url": "http://127.0.0.1:11/v1", "chipz": 2},
    }})
    names = {e.name: e for e in host.backends() if e.plugin == "remote"}
    assert set(names) == {"h100-vllm", "ascend", "typo"}
    assert names["h100-vllm"].info.kind == "remote" and names["h100-vllm"].info.hardware == "h100 (declared), 8 chips"
    assert {o.name: o.default for o in names["ascend"].options}["read_timeout_s"] == 7.5
    record = host.plugin("remote")
    assert record.status == "loaded"
    assert any("[remote.broken]" in w and "http(s) URL" in w for w in record.warnings)
    assert any("unknown key 'chipz'" in w for w in record.warnings)
    assert host.unclaimed_config() == []


def test_endpoint_table_round_trip():
    endpoints, problems = parse_endpoints({"a": {"url": "http://h:1/v1", "chips": 8, "price_usd_per_chip_hour": 2}})
    assert problems == [] and endpoints["a"].as_table() == {"url": "http://h:1/v1", "chips": 8,
                                                           "price_usd_per_chip_hour": 2.0}
    assert parse_endpoints({"a b": {"url": "http://h/v1"}})[1][0].startswith("[remote.a b]: name must be")

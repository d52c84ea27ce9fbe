"""The ``remote`` backend against our own ``moe-console serve`` on a loopback port (served.py).

Streaming (the text is the server's own greedy reply, the usage is the
server's count), cancel mid-stream (the server's ``vllm:num_requests_running``
drops and it counts an abort), usage and timing labels, the conformance kit,
the errors a real server gives (401 without the key, 404 for an unknown
model), and the plugin wiring from settings tables. What a real server cannot
be made to do (500, cut streams, malformed SSE, stalls) is in
test_remote_errors.py, against the stand-in.
"""

from __future__ import annotations

import asyncio

import pytest

from console.api import Failed, Finished, Message, Request, Sampling, Started, TextDelta
from console.plugins import PluginHost
from console.testing import BackendConformance, check_events, collect
from moe_console_remote.backend import backend_class
from moe_console_remote.config import Endpoint, parse_endpoints
from served import KEY, KEY_ENV

QUESTION = "What is a mixture of experts?"


def backend_for(url: str, *, ignore_eos: bool = False, **table):
    endpoint = Endpoint(name=table.pop("name", "gpu"), url=url, **table)
    return backend_class(endpoint)(ignore_eos=ignore_eos)


def ask(text: str = QUESTION, max_tokens: int = 8) -> Request:
    return Request(messages=(Message("user", text),), sampling=Sampling(max_tokens=max_tokens, temperature=0.0, seed=0))


class TestConformance(BackendConformance):
    """The plugin API's conformance kit, against the real server; a cancelled reply must
    leave it idle and counted as an abort."""

    options = {"ignore_eos": True}
    cancel_max_tokens = 900  # ~1 s of decoding: the cancel lands mid-stream

    @pytest.fixture(autouse=True)
    def _server(self, served):
        self.server = served
        self.backend_class = backend_class(Endpoint("gpu", served.url, model="builtin", chips=8,
                                                    price_usd_per_chip_hour=2.35))
        self.aborts = served.aborted()
        yield

    async def assert_idle(self, backend):
        await asyncio.to_thread(self.server.wait_idle)
        assert self.server.aborted() > self.aborts, "the server never saw the cancel"


async def test_streams_the_servers_reply_measured_on_arrival(served):
    backend = backend_for(served.url, model="builtin", chips=8, price_usd_per_chip_hour=2.35, ignore_eos=True)
    request = ask(max_tokens=8)
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    whole = served.post("/v1/chat/completions", {"model": "builtin", "messages": [{"role": "user", "content": QUESTION}],
                                                 "max_tokens": 8, "temperature": 0.0, "seed": 0, "ignore_eos": True})
    assert text and text == whole["choices"][0]["message"]["content"], "the streamed text is the server's reply"
    done = events[-1]
    assert isinstance(done, Finished) and done.reason == "length"
    prompt = served.post("/tokenize", {"messages": [{"role": "user", "content": QUESTION}]})["count"]
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (prompt, 8) == (
        whole["usage"]["prompt_tokens"], whole["usage"]["completion_tokens"])
    assert done.timing.label == "measured (remote: gpu, network included)"
    deltas = [e for e in events if isinstance(e, TextDelta)]
    gaps = done.timing.inter_token_s
    assert len(gaps) == len(deltas) - 1 and all(g >= 0 for g in gaps)  # one gap per chunk after the first
    assert done.timing.ttft_s == pytest.approx(deltas[0].at, abs=1e-6) and done.timing.e2e_s >= deltas[-1].at
    # cost per output token, as TPOT: a chunk can carry several tokens, so tokens come from usage
    assert done.cost is not None and done.cost.usd_per_m_output == pytest.approx(
        8 * 2.35 / 3600 * done.timing.decode_s / 7 * 1e6)
    await backend.aclose()


async def test_without_usage_tokens_are_counted_and_said_so(served, monkeypatch):
    backend = backend_for(served.url, model="builtin", ignore_eos=True)
    from moe_console_remote import backend as module

    real = module.request_payload
    monkeypatch.setattr(module, "request_payload", lambda *a: {**real(*a), "stream_options": {}})
    events = await collect(backend.stream(ask(max_tokens=3)))
    done = events[-1]
    chunks = sum(1 for e in events if isinstance(e, TextDelta))
    assert isinstance(done, Finished) and done.usage.completion_tokens == chunks
    assert "tokens counted from the stream's chunks (the server sent no usage)" in done.timing.label


async def test_model_defaults_to_the_servers_first(served):
    backend = backend_for(served.url)
    events = await collect(backend.stream(ask(max_tokens=2)))
    assert isinstance(events[-1], Finished) and backend._model == "builtin"


async def test_cancel_mid_stream_frees_the_servers_sequence(served):
    backend = backend_for(served.url, model="builtin", ignore_eos=True)
    aborts = served.aborted()
    stream = backend.stream(ask(max_tokens=900))
    seen = [event async for event in _take(stream, 3)]
    assert isinstance(seen[0], Started) and all(isinstance(e, TextDelta) for e in seen[1:])
    assert await asyncio.to_thread(served.running) == 1
    await stream.aclose()
    await asyncio.to_thread(served.wait_for, lambda: served.running() == 0, "vllm:num_requests_running drops to 0")
    assert await asyncio.to_thread(served.aborted) == aborts + 1
    events = await collect(backend.stream(ask(max_tokens=2)))  # and it serves again
    assert isinstance(events[-1], Finished)
    await backend.aclose()


async def _take(stream, n):
    async for event in stream:
        yield event
        n -= 1
        if n == 0:
            return


async def test_unknown_model_is_the_servers_404_in_one_line(served):
    failed = (await collect(backend_for(served.url, model="nope").stream(ask())))[-1]
    assert isinstance(failed, Failed) and "\n" not in failed.error
    assert failed.error == (f"{served.url}/chat/completions: HTTP 404 not found: check the URL (it should end in "
                            "/v1) and the model name: The model `nope` does not exist (this server serves "
                            "`builtin`). (NotFoundError)")


async def test_401_names_the_unset_key_variable(locked, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    backend = backend_for(locked.url, model="builtin", api_key_env=KEY_ENV)
    failed = (await collect(backend.stream(ask())))[-1]
    assert isinstance(failed, Failed) and "HTTP 401 unauthorized: check the API key" in failed.error
    assert f"(environment variable {KEY_ENV} is not set)" in failed.error
    monkeypatch.setenv(KEY_ENV, KEY)
    assert isinstance((await collect(backend.stream(ask(max_tokens=2))))[-1], Finished)
    await backend.aclose()


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

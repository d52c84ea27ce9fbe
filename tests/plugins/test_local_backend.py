"""The `local` backend: real engine, real tokenizer, measured figures; conformance kit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from console.api import Failed, Finished, Message, Request, RoutingStats, Sampling, Started, TextDelta
from console.engine import load_model
from console.engine.aio import shared_engine
from console.testing import BackendConformance, check_events, collect
from moe_console_local.accounting import PRICE_DATE
from moe_console_local.backend import LocalBackend
from tiny_model import write_tiny_model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return str(write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-v3"))


def _request(text="Hello there", max_tokens=12, **kw):
    return Request(messages=(Message("user", text),), sampling=Sampling(max_tokens=max_tokens, temperature=0.0),
                   **kw)


async def _loop_is_idle(path, settle_s=0.05):
    """True when the shared loop stops stepping: it holds no active sequence."""
    loop = shared_engine(path).loop
    before = loop.steps
    await asyncio.sleep(settle_s)
    return loop.steps == before


class TestLocalConformance(BackendConformance):
    backend_class = LocalBackend
    cancel_max_tokens = 200

    @pytest.fixture(autouse=True)
    def _model(self, tiny_path):
        self.options = {"model_path": tiny_path}

    def make_backend(self):
        self.steps_at_start = shared_engine(self.options["model_path"]).loop.steps
        return super().make_backend()

    async def assert_idle(self, backend):
        loop = shared_engine(backend.settings["model_path"]).loop
        assert await _loop_is_idle(backend.settings["model_path"]), "the loop still steps a cancelled sequence"
        assert loop.steps - self.steps_at_start < self.cancel_max_tokens / 2, "cancel did not stop the engine"


async def test_reply_matches_the_engine_greedy_tokens(tiny_path):
    backend = LocalBackend(model_path=tiny_path)
    request = _request(max_tokens=10)
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    model = load_model(tiny_path)
    prompt = model.tokenizer.apply_chat_template([{"role": "user", "content": "Hello there"}])
    expected = list(model.generate(prompt, 10))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert [t for d in deltas for t in d.token_ids] == expected
    assert "".join(d.text for d in deltas) == model.tokenizer.decode(expected)
    started, finished = events[0], events[-1]
    assert started.prompt_tokens == len(prompt) and started.model == "tiny-v3"
    assert finished.reason == "length"
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens) == (len(prompt), 10)


async def test_timing_and_cost_are_measured_and_consistent(tiny_path):
    backend = LocalBackend(model_path=tiny_path, price_usd_per_hour=3.6)
    before = time.monotonic()
    events = await collect(backend.stream(_request(max_tokens=8)))
    wall = time.monotonic() - before
    done = events[-1]
    t = done.timing
    assert (t.clock, t.label) == ("measured", "measured (numpy engine on this machine)")
    assert len(t.inter_token_s) == 7 and 0 < t.ttft_s <= t.e2e_s <= wall
    assert t.decode_s == pytest.approx(sum(t.inter_token_s))
    cost = done.cost
    # 3.6 USD/h = 0.001 USD/s: rates follow from the measured seconds per token.
    assert cost.usd_per_m_input == pytest.approx(1e-3 * t.prefill_s / done.usage.prompt_tokens * 1e6)
    assert cost.usd_per_m_output == pytest.approx(1e-3 * t.decode_s / 7 * 1e6)
    assert cost.price_usd_per_chip_hour == 3.6 and "set by the user" in cost.label
    default = (await collect(LocalBackend(model_path=tiny_path).stream(_request(max_tokens=2))))[-1].cost
    assert (default.price_usd_per_chip_hour, default.price_date) == (0.10, PRICE_DATE)
    assert "assumption" in default.label


async def test_routing_stats_name_the_moe_layers(tiny_path):
    backend = LocalBackend(model_path=tiny_path)
    events = await collect(backend.stream(_request(max_tokens=4, want_routing=True)))
    routing = [e for e in events if isinstance(e, RoutingStats)]
    assert len(routing) == 4
    assert all(r.layers == (1, 2) and r.n_routed_experts == 8 for r in routing)
    assert all(len(layer) == 2 and len(set(layer)) == 2 for r in routing for layer in r.experts)


async def test_stop_string_ends_the_reply_and_is_not_shown(tiny_path):
    """The engine's rule (console.engine.stops): a token whose text reaches into
    the stop string is dropped whole, so the text is the decoding of the ids kept."""
    backend = LocalBackend(model_path=tiny_path)
    deltas = [e for e in await collect(backend.stream(_request(max_tokens=10))) if isinstance(e, TextDelta)]
    full = "".join(d.text for d in deltas)
    stop = full[8:12]
    cut, kept, offset = full.index(stop), [], 0
    for d in deltas:
        offset += len(d.text)
        if offset > cut:
            break
        kept.append(d.text)
    request = Request(messages=(Message("user", "Hello there"),),
                      sampling=Sampling(max_tokens=10, temperature=0.0, stop=(stop,)))
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "".join(kept) and stop not in text
    assert events[-1].reason == "stop"


async def test_prompt_longer_than_the_context_window_fails_clearly(tmp_path):
    path = str(write_tiny_model(tmp_path / "short-ctx", max_position_embeddings=32))
    events = await collect(LocalBackend(model_path=path).stream(_request("word " * 40)))
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].error.startswith("the prompt is ")
    assert "short-ctx has a context window of 32 tokens" in events[0].error


async def test_reply_is_clamped_to_the_context_window(tmp_path):
    path = str(write_tiny_model(tmp_path / "ctx24", max_position_embeddings=24))
    events = await collect(LocalBackend(model_path=path).stream(_request("Hello there", max_tokens=100)))
    done = events[-1]
    assert isinstance(done, Finished) and done.reason == "length"
    assert done.usage.prompt_tokens + done.usage.completion_tokens == 24


async def test_bad_model_path_is_a_failed_reply(tmp_path):
    events = await collect(LocalBackend(model_path=str(tmp_path / "nowhere")).stream(_request()))
    assert len(events) == 1 and events[0].error.startswith("cannot load the model: ")
    assert "no such model folder" in events[0].error


async def test_cancel_mid_stream_frees_the_loop(tiny_path):
    backend = LocalBackend(model_path=tiny_path)
    loop = shared_engine(tiny_path).loop
    first_step = loop.steps
    stream = backend.stream(_request(max_tokens=2000))
    got = [e async for e in _until_text(stream)]
    assert isinstance(got[0], Started)
    await stream.aclose()
    assert await _loop_is_idle(tiny_path, 0.1)
    assert loop.steps - first_step < 100  # stopped long before max_tokens


async def _until_text(stream):
    async for event in stream:
        yield event
        if isinstance(event, TextDelta) and event.text:
            return


def test_picking_local_is_cheap_the_engine_loads_on_first_reply():
    code = (
        "import sys\n"
        "from console.plugins import PluginHost\n"
        "host = PluginHost.discover(allow=['local'], deny=[])\n"
        "backend = host.create('local', price_usd_per_hour='0.5')\n"
        "print(host.plugin('local').status, backend.settings['price_usd_per_hour'],\n"
        "      [m for m in ('console.engine', 'numpy', 'textual') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n")[0] == "loaded 0.5 []", out.stderr


async def test_long_conversation_drops_its_oldest_turns_to_fit_the_window(tmp_path):
    path = str(write_tiny_model(tmp_path / "ctx64", max_position_embeddings=64))
    history = []
    for i in range(12):
        history += [Message("user", f"question number {i} about words"), Message("assistant", f"answer {i}")]
    request = Request(messages=(Message("system", "Be brief."), *history, Message("user", "last question")),
                      sampling=Sampling(max_tokens=8, temperature=0.0))
    events = await collect(LocalBackend(model_path=path).stream(request))
    done = events[-1]
    assert isinstance(done, Finished), events[-1]
    assert done.usage.prompt_tokens <= 64 - 8  # room left for the reply
    assert done.usage.completion_tokens > 0


async def test_the_first_reply_does_not_time_the_model_s_one_time_preparation(tmp_path, monkeypatch):
    """Issue 12: ``local``'s cost per million input tokens went from $1.451 to $0.004 between
    turns. Its prefill time is measured from the moment the model is loaded; the engine then
    prepared each layer (weights packed) during the first forward pass, inside that window.
    Every layer must be built before the reply's clock starts (its Started event), so the
    first turn's prefill is a prefill like the others."""
    from console.engine.model import Model

    built: list[float] = []
    build = Model._build_layer

    def timed_build(self, i):
        built.append(time.monotonic())
        return build(self, i)

    monkeypatch.setattr(Model, "_build_layer", timed_build)
    path = str(write_tiny_model(tmp_path / "fresh-v3"))  # a model no other test loaded
    started_at = None
    async for event in LocalBackend(model_path=path).stream(_request(max_tokens=3)):
        if isinstance(event, Started):
            started_at = time.monotonic()
        assert not isinstance(event, Failed), event
    assert started_at is not None and built, "the model was not loaded by this reply"
    assert max(built) < started_at, "layers were prepared inside the first reply's timed prefill"

"""The `local` backend (and a modeled one) on a tiny DeepSeek-V4 folder: a real reply streamed
from the engine, routing stats that mark the hash-routed layers, the cache size by V4's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from console.api import Message, Request, RoutingStats, Sampling, TextDelta
from console.engine import load_model
from console.plugins import PluginHost
from console.testing import check_events, collect
from moe_console_local.backend import LocalBackend
from tiny_model import write_tiny_model

V4_FOLDER = str(Path(__file__).resolve().parents[1] / "fixtures" / "v4" / "v4_sliding_hash_native")


def _request(max_tokens=8):
    return Request(messages=(Message("user", "Hello there"),),
                   sampling=Sampling(max_tokens=max_tokens, temperature=0.0), want_routing=True)


def _expected(folder, max_tokens):
    model = load_model(folder)
    prompt = model.tokenizer.apply_chat_template([{"role": "user", "content": "Hello there"}])
    return model, prompt, list(model.generate(prompt, max_tokens))


async def test_local_backend_streams_a_v4_reply_with_hash_layers_marked():
    backend = LocalBackend(model_path=V4_FOLDER)
    request = _request(max_tokens=8)
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    model, prompt, expected = _expected(V4_FOLDER, 8)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    tokens = [t for d in deltas for t in d.token_ids]
    assert tokens == expected[:len(tokens)] and len(tokens) > 0
    assert "".join(d.text for d in deltas) == model.tokenizer.decode(tokens)
    assert events[0].model == "v4_sliding_hash_native" and events[0].prompt_tokens == len(prompt)

    routing = [e for e in events if isinstance(e, RoutingStats)]
    assert len(routing) == len(tokens)
    assert all(r.layers == (0, 1) and r.hash_layers == (0,) == model.hash_moe_layers for r in routing)
    assert all(r.n_routed_experts == 4 and all(len(set(layer)) == 2 for layer in r.experts) for r in routing)
    # layer 0 routes by the id of the token whose position produced each new token: its table row
    table = np.array(model._ckpt.raw("layers.0.ffn.gate.tid2eid"))
    inputs = [prompt[-1]] + tokens[:-1]
    assert [set(r.experts[0]) for r in routing] == [set(table[t].tolist()) for t in inputs]


async def test_local_backend_reports_the_v4_cache_size_by_its_layout(tmp_path):
    backend = LocalBackend(model_path=V4_FOLDER)
    assert backend.kv_bytes_at(100) is None                      # nothing loaded yet
    await collect(backend.stream(_request(max_tokens=2)))
    model = load_model(V4_FOLDER)
    assert [backend.kv_bytes_at(n) for n in (1, 100, 5000)] == [model.kv_bytes_at(n) for n in (1, 100, 5000)]
    assert backend.kv_bytes_at(5000) == backend.kv_bytes_at(200)   # sliding-only layers: the window ring
    v3 = LocalBackend(model_path=str(write_tiny_model(tmp_path / "tiny-v3")))
    await collect(v3.stream(_request(max_tokens=2)))
    per_token = load_model(tmp_path / "tiny-v3").kv_bytes_per_token()
    assert v3.kv_bytes_at(300) == 300 * per_token


async def test_modeled_backend_marks_the_same_hash_layers():
    host = PluginHost.discover(allow=("h100",), deny=[])
    name = next(e.name for e in host.backends() if e.info.kind == "modeled")
    backend = host.create(name, model_path=V4_FOLDER, pace="fast")
    events = await collect(backend.stream(_request(max_tokens=4)))
    routing = [e for e in events if isinstance(e, RoutingStats)]
    assert routing and all(r.hash_layers == (0,) and r.clock == "modeled" for r in routing)

"""Modeled backends: ``ignore_eos`` and the context window they expose (tiny checkpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
from pathlib import Path

import pytest

from console.api import Finished, Message, Request, Sampling, TextDelta
from console.session_backends import _context_window
from console.engine import load_model
from console.engine.aio import shared_engine
from console.modeled import backend_class_for
from console.testing import collect
from moe_console_h100 import H100

H100Backend = backend_class_for(H100)
ROOT = Path(__file__).resolve().parents[2]


def _write_tiny(folder: Path, **kw) -> str:
    spec = importlib.util.spec_from_file_location("perf_tiny_model", ROOT / "tests/plugins/tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.write_tiny_model(folder, **kw))


@pytest.fixture(autouse=True)
def _no_user_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path))
    monkeypatch.delenv("MOE_CONSOLE_PRICES", raising=False)


def _request(max_tokens: int) -> Request:
    return Request(messages=(Message("user", "Tell me about experts"),),
                   sampling=Sampling(max_tokens=max_tokens, temperature=0.0))


async def test_ignore_eos_generates_past_the_stop_token_until_max_tokens(tmp_path, monkeypatch):
    path = _write_tiny(tmp_path / "eos")
    model = shared_engine(path).model
    prompt = model.tokenizer.apply_chat_template([{"role": "user", "content": "Tell me about experts"}])
    greedy = list(load_model(path).generate(prompt, 5))
    # Stand-in for a model that ends its turn at once: the first greedy token is its stop token.
    monkeypatch.setattr(model.tokenizer, "stop_token_ids", (greedy[0],))

    stopped = await collect(H100Backend(model_path=path, pace="fast").stream(_request(5)))
    assert stopped[-1].reason == "stop" and stopped[-1].usage.completion_tokens == 0

    events = await collect(H100Backend(model_path=path, pace="fast", ignore_eos=True).stream(_request(5)))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "length"
    assert finished.usage.completion_tokens == 5
    assert [t for e in events if isinstance(e, TextDelta) for t in e.token_ids] == greedy


async def test_context_window_is_the_engines_not_the_target_models(tmp_path):
    path = _write_tiny(tmp_path / "ctx48", max_position_embeddings=48)
    backend = H100Backend(model_path=path, pace="fast", target_model="deepseek-v3", context=4000)
    assert backend.context_window == 48 and _context_window(backend) == 48  # before loading
    await collect(backend.stream(_request(2)))
    assert backend.context_window == 48
    builtin = json.loads((ROOT / "console/engine/builtin/config.json").read_text())["max_position_embeddings"]
    assert H100Backend().context_window == builtin
    assert H100Backend(model_path=str(tmp_path / "missing")).context_window is None


async def test_closing_the_stream_mid_reply_frees_the_engine(tmp_path):
    path = _write_tiny(tmp_path / "close")
    loop = shared_engine(path).loop
    stream = H100Backend(model_path=path, pace="fast", ignore_eos=True).stream(_request(200))
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, TextDelta):
                break
    steps = loop.steps
    await asyncio.sleep(0.1)
    assert loop.steps == steps, "the engine still steps the sequence of a closed stream"

"""`local` and the modeled backends share one engine reply path: same tokens, same stops."""

from __future__ import annotations

import pytest

from console.api import Message, Request, Sampling, TextDelta
from console.plugins import PluginHost
from console.testing import check_events, collect
from tiny_model import write_tiny_model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return str(write_tiny_model(tmp_path_factory.mktemp("agree") / "tiny-v3"))


@pytest.fixture(scope="module")
def host():
    return PluginHost.discover(allow=["local", "h100", "ascend950"], deny=[])


def _request(**sampling):
    return Request(messages=(Message("user", "Tell me about experts"),),
                   sampling=Sampling(**{"max_tokens": 16, "temperature": 0.9, "seed": 5, **sampling}))


async def _reply(host, name, tiny_path, request):
    options = {"model_path": tiny_path}
    if name != "local":
        options["pace"] = "fast"
    backend = host.create(name, **options)
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    return "".join(d.text for d in deltas), [t for d in deltas for t in d.token_ids], events[-1]


@pytest.mark.parametrize("modeled", ["h100", "ascend950"])
async def test_same_seed_same_tokens_and_the_same_stop(host, tiny_path, modeled):
    text, ids, _ = await _reply(host, "local", tiny_path, _request())
    assert (text, ids) == (await _reply(host, modeled, tiny_path, _request()))[:2]
    # a stop string that starts inside a token: both drop that token whole (the engine's rule)
    stop = text[5:7]
    local = await _reply(host, "local", tiny_path, _request(stop=(stop,)))
    other = await _reply(host, modeled, tiny_path, _request(stop=(stop,)))
    assert local[:2] == other[:2]
    assert stop not in local[0] and text.startswith(local[0]) and len(local[0]) <= text.index(stop)
    assert local[2].reason == other[2].reason == "stop"
    assert local[2].timing.clock == "measured" and other[2].timing.clock == "modeled"


async def test_every_sampling_field_reaches_the_engine(host, tiny_path):
    """min_p and repetition_penalty change the reply on both backends alike."""
    base = await _reply(host, "local", tiny_path, _request(temperature=1.0))
    tight = await _reply(host, "local", tiny_path, _request(temperature=1.0, min_p=0.9, repetition_penalty=1.5))
    assert base[1] != tight[1]
    assert tight[:2] == (await _reply(host, "h100", tiny_path,
                                      _request(temperature=1.0, min_p=0.9, repetition_penalty=1.5)))[:2]

"""Sampling rules, seeds, stop tokens, stop strings and max_new_tokens."""

from __future__ import annotations

import numpy as np
import pytest

from console.engine import SamplingParams, load_model
from console.engine.sampling import Sampler
from console.engine.stops import StopStringMatcher
from console.engine.tokenizer import builtin_tokenizer

from .checkpoints import write_checkpoint

PROMPT = [5, 17, 3, 44, 90, 12, 7]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(write_checkpoint(tmp_path_factory.mktemp("m") / "v3", "v3"))


def draws(params, logits, n=20000, prompt=(0,)):
    sampler = Sampler(params, len(logits), np.array(prompt))
    return np.bincount([sampler(np.array(logits, np.float32)) for _ in range(n)], minlength=len(logits)) / n


def softmax(x):
    e = np.exp(np.asarray(x, float) - max(x))
    return e / e.sum()


def test_greedy_and_degenerate_filters_pick_the_argmax():
    logits = [0.1, 2.0, -1.0, 1.9]
    assert draws(SamplingParams(), logits, 50)[1] == 1.0
    for params in (SamplingParams(temperature=1.0, top_k=1, seed=1),
                   SamplingParams(temperature=1.0, top_p=1e-6, seed=1),
                   SamplingParams(temperature=1.0, min_p=1.0, seed=1)):
        assert draws(params, logits, 200)[1] == 1.0


def test_temperature_sampling_follows_the_softmax():
    logits = [0.0, 1.0, 2.0, 3.0]
    freq = draws(SamplingParams(temperature=1.0, seed=0), logits)
    assert np.abs(freq - softmax(logits)).max() < 0.015
    freq = draws(SamplingParams(temperature=0.5, seed=0), logits)
    assert np.abs(freq - softmax(np.array(logits) / 0.5)).max() < 0.015


def test_top_k_top_p_min_p_restrict_the_support():
    logits = np.log([0.4, 0.3, 0.2, 0.1])
    f = draws(SamplingParams(temperature=1.0, top_k=2, seed=0), logits, 5000)
    assert f[2] == f[3] == 0 and abs(f[0] - 4 / 7) < 0.03
    f = draws(SamplingParams(temperature=1.0, top_p=0.65, seed=0), logits, 5000)   # 0.4 + 0.3 reaches 0.65
    assert f[2] == f[3] == 0 and f[1] > 0.3
    f = draws(SamplingParams(temperature=1.0, top_p=0.75, seed=0), logits, 5000)
    assert f[3] == 0 and f[2] > 0.1
    f = draws(SamplingParams(temperature=1.0, min_p=0.45, seed=0), logits, 5000)   # keep p >= 0.18
    assert f[3] == 0 and f[2] > 0.1


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits():
    logits = [2.0, 1.9, -1.0, -1.05]
    # token 0 seen: 2.0 -> 1.0, so token 1 wins greedily
    assert draws(SamplingParams(repetition_penalty=2.0), logits, 1, prompt=[0])[1] == 1.0
    assert draws(SamplingParams(repetition_penalty=2.0), logits, 1, prompt=[2])[0] == 1.0
    sampler = Sampler(SamplingParams(repetition_penalty=3.0), 4, np.array([1]))
    assert sampler(np.array([-5.0, 0.5, -4.0, -4.5], np.float32)) == 1          # 0.5/3 still highest
    assert sampler(np.array([-5.0, 0.5, 0.2, -4.5], np.float32)) == 2           # 1 was generated: penalised


def test_same_seed_same_tokens(model):
    params = SamplingParams(temperature=1.0, top_p=0.95, top_k=50, seed=42)
    a = list(model.generate(PROMPT, 20, params))
    b = list(model.generate(PROMPT, 20, params))
    c = list(model.generate(PROMPT, 20, SamplingParams(temperature=1.0, top_p=0.95, top_k=50, seed=43)))
    assert a == b and a != c
    assert list(model.generate(PROMPT, 8)) == list(model.generate(PROMPT, 8, SamplingParams()))


def test_max_new_tokens_and_stop_token_ids(model):
    stream = model.stream(PROMPT, 12)
    tokens = [s.token_id for s in stream]
    assert len(tokens) == 12 and stream.finish_reason == "length"
    empty = model.stream(PROMPT, 0)
    assert list(empty) == [] and empty.finish_reason == "length"
    j = next(i for i in range(2, 12) if tokens[i] not in tokens[:i])
    stopped = model.stream(PROMPT, 12, SamplingParams(stop_token_ids=(tokens[j],)))
    assert [s.token_id for s in stopped] == tokens[:j]               # the stop token is not yielded
    assert stopped.finish_reason == "stop"


def test_should_stop_cancels_between_steps(model):
    seen = []
    stream = model.stream(PROMPT, 50, should_stop=lambda: len(seen) >= 3)
    for step in stream:
        seen.append(step)
    assert len(seen) == 3 and stream.finish_reason == "cancelled"


def test_stop_string_matcher_holds_back_possible_starts():
    m = StopStringMatcher(("END", "\n\n"))
    assert m.push(1, "Hello ") == [1]
    assert m.push(2, "E") == []                       # could be the start of END
    assert m.push(3, "x") == [2, 3]                   # it was not
    assert m.push(4, " E") == []                      # " " is safe but the token also holds "E"
    assert m.push(5, "N") == []
    assert m.push(6, "D!") == [] and m.stopped        # END found: tokens 4..6 dropped
    m = StopStringMatcher(("stop",))
    assert m.push(1, "a") == [1] and m.push(2, "st") == [] and m.flush() == [2]
    m = StopStringMatcher(("\n\n",))
    assert m.push(1, "x\n") == [] and m.push(2, "\ny") == [] and m.stopped


def test_stop_strings_through_the_model(tmp_path):
    tokenizer = builtin_tokenizer()
    vocab = 8192
    model = load_model(write_checkpoint(tmp_path / "m", "v3", vocab_size=vocab))
    model.tokenizer = tokenizer
    prompt = tokenizer.encode("The quick brown fox")
    tokens = list(model.generate(prompt, 16))
    pieces = []
    decoder = tokenizer.stream_decoder()
    for t in tokens:
        pieces.append(decoder.push(t))
    text = "".join(pieces)
    j = next(i for i in range(3, 16) if pieces[i].strip() and text.find(pieces[i]) == len("".join(pieces[:i])))
    stream = model.stream(prompt, 16, SamplingParams(stop_strings=(pieces[j],)))
    got = [s.token_id for s in stream]
    assert got == tokens[:j] and stream.finish_reason == "stop"

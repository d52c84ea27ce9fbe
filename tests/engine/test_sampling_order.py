"""The sampling filters in combination follow one documented order (vLLM's)."""

import numpy as np

from console.engine.sampling import Sampler, SamplingParams

PROBS = np.array([0.40, 0.35, 0.25])


def _drawn(probs, draws=400, **params) -> set[int]:
    sampler = Sampler(SamplingParams(temperature=1.0, seed=3, **params), len(probs), np.array([], dtype=np.int64))
    logits = np.log(np.asarray(probs, dtype=np.float32))
    return {sampler(logits) for _ in range(draws)}


def test_min_p_applies_before_top_p():
    assert _drawn(PROBS, top_p=0.5) == {0, 1}            # alone: .40 < .5, .75 >= .5
    assert _drawn(PROBS, min_p=0.7) == {0, 1}            # alone: .25 < .7 * .40
    assert _drawn(PROBS, top_p=0.5, min_p=0.7) == {0}    # min-p, renormalise, then top-p


def test_top_k_and_min_p_commute_and_top_p_runs_on_what_is_left():
    probs = np.array([0.30, 0.25, 0.20, 0.15, 0.10])
    assert _drawn(probs, top_k=3) == {0, 1, 2}
    assert _drawn(probs, top_k=4, min_p=0.6) == _drawn(probs, top_k=3) == {0, 1, 2}
    # top-k 3 leaves [.3, .25, .2] -> renormalised [.40, .33, .27]: top-p .6 keeps two
    assert _drawn(probs, top_k=3, top_p=0.6) == {0, 1}
    assert _drawn(probs, top_p=0.6) == {0, 1, 2}         # without top-k: .30, .55, .75


def test_every_filter_keeps_at_least_the_most_likely_token():
    assert _drawn(PROBS, top_p=0.01, min_p=1.0, top_k=1) == {0}

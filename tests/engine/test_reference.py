"""The numpy engine against transformers, one tiny checkpoint per feature.

The fixtures under ``tests/fixtures/reference/`` were made by transformers'
own ``DeepseekV3ForCausalLM`` / ``DeepseekV2ForCausalLM`` /
``MixtralForCausalLM`` (``tests/fixtures/make_reference.py``; versions in its
``manifest.json``): each folder is a genuine ``save_pretrained`` checkpoint
with transformers' float32 logits at every position of a 12-token prompt plus
its 16 greedily generated tokens. This test needs neither torch nor
transformers: it loads each folder with ``console.engine.load_model`` and
requires

- ``Model.logits`` within ``1e-4 + 1e-4 * max|ref|`` of the reference at
  every position (the prompt alone and prompt + generated tokens), and
- ``Model.generate`` (prefill, then one cached decode step per token) to
  produce exactly transformers' 16 greedy tokens, and
- the batching ``GenerationLoop`` to produce the same continuations for three
  sequences of different lengths decoded together (prompt + the first j
  reference tokens must continue with the remaining ones: greedy decoding
  is deterministic).

The builder rejected every candidate with a routing or greedy near-tie, so a
mismatch here is an engine bug, not rounding. Test ids are case names; the
assertion message lists the features the case covers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from console.engine import GenerationLoop, load_model

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
CASES = sorted(p.name for p in REFERENCE_DIR.iterdir() if (p / "case.json").is_file())


def tolerance(ref: np.ndarray) -> float:
    return 1e-4 + 1e-4 * float(np.abs(ref).max())


@functools.lru_cache(maxsize=None)
def case_data(name: str) -> tuple[dict, dict]:
    folder = REFERENCE_DIR / name
    info = json.loads((folder / "case.json").read_text())
    with np.load(folder / "expected.npz") as npz:
        expected = {key: npz[key] for key in npz.files}
    return info, expected


@functools.lru_cache(maxsize=None)
def engine_model(name: str):
    return load_model(REFERENCE_DIR / name)


def features(info: dict) -> str:
    return f"{info['arch']}, {info['dtype']}: " + "; ".join(info["features"])


def test_fixture_set_is_complete():
    """Every case the builder knows is present (a lost folder must not shrink
    the parametrisation silently)."""
    manifest = json.loads((REFERENCE_DIR / "manifest.json").read_text())
    assert sorted(manifest["cases"]) == CASES
    assert len(CASES) >= 11
    archs = {case_data(name)[0]["arch"] for name in CASES}
    assert archs == {"deepseek_v3", "deepseek_v2", "mixtral"}


@pytest.mark.parametrize("case", CASES)
def test_logits_match_transformers_at_every_position(case):
    info, expected = case_data(case)
    model = engine_model(case)
    prompt = expected["prompt_ids"].tolist()
    full = prompt + expected["generated_ids"].tolist()
    ref = expected["logits"]

    got = model.logits(full)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32, f"{case}: logits must be float32"
    assert got.shape == ref.shape, f"{case}: shape {got.shape} != {ref.shape}"
    err = np.abs(got - ref).max(axis=-1)
    worst = int(err.argmax())
    assert err.max() <= tolerance(ref), (
        f"{case} [{features(info)}]: max|diff| {err.max():.3e} at position {worst} "
        f"(first bad position {int(np.argmax(err > tolerance(ref)))}) > tol {tolerance(ref):.3e}"
    )

    head = model.logits(prompt)
    err_head = float(np.abs(head - ref[: len(prompt)]).max())
    assert err_head <= tolerance(ref), (
        f"{case} [{features(info)}]: prompt-only logits differ by {err_head:.3e}"
    )


@pytest.mark.parametrize("case", CASES)
def test_greedy_generation_matches_transformers(case):
    info, expected = case_data(case)
    model = engine_model(case)
    prompt = expected["prompt_ids"].tolist()
    want = expected["generated_ids"].tolist()

    got = [int(t) for t in model.generate(prompt, len(want))]
    assert got == want, (
        f"{case} [{features(info)}]: cached greedy decode diverges at token "
        f"{next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}: "
        f"got {got}, transformers {want}"
    )


@pytest.mark.parametrize("case", CASES)
def test_batched_loop_matches_transformers(case):
    info, expected = case_data(case)
    model = engine_model(case)
    prompt = expected["prompt_ids"].tolist()
    want = expected["generated_ids"].tolist()
    splits = (0, 3, 7)

    loop = GenerationLoop(model)
    try:
        handles = [loop.submit(prompt + want[:j], len(want) - j) for j in splits]
        got = [[step.token_id for step in handle] for handle in handles]
    finally:
        loop.close()
    for j, tokens in zip(splits, got):
        assert tokens == want[j:], (
            f"{case} [{features(info)}]: batched decode of prompt + {j} reference tokens "
            f"gave {tokens}, transformers {want[j:]}"
        )

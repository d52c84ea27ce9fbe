"""The DeepSeek-V4 engine against transformers' own ``DeepseekV4ForCausalLM``.

Fixtures (``tests/fixtures/v4``, built by ``tests/fixtures/make_reference_v4.py``): tiny random
checkpoints covering sliding-only, HCA, CSA + Lightning Indexer, hash-routed, sqrtsoftplus and
sigmoid layers, mHC (hc_mult 2 and 4), sinks, grouped output, the three tensor layouts
(DeepSeek native, save_pretrained, in-memory module names) and the three config forms, plus
FP8/FP4 checkpoints in the released layouts. Each holds transformers' float32 logits at every
position of a 12-token prompt + its 16 greedy tokens (stateless) and those tokens (cached
``generate``). The builder rejected candidates with routing, indexer top-k or greedy near-ties.
Tolerance as for V3: ``1e-4 + 1e-4 * max|ref|``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from console.engine import GenerationLoop, load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v4"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.json").is_file())
V4_CASES = [c for c in CASES if c.startswith("v4_")]


def tolerance(ref: np.ndarray) -> float:
    return 1e-4 + 1e-4 * float(np.abs(ref).max())


@functools.lru_cache(maxsize=None)
def data(name: str) -> tuple[dict, dict]:
    info = json.loads((FIXTURES / name / "case.json").read_text())
    with np.load(FIXTURES / name / "expected.npz") as npz:
        return info, {k: npz[k] for k in npz.files}


@functools.lru_cache(maxsize=None)
def model(name: str):
    return load_model(FIXTURES / name)


def test_fixture_set_covers_the_features():
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    assert sorted(manifest["cases"]) == CASES
    layouts = {data(c)[0]["layout"] for c in V4_CASES}
    forms = {data(c)[0]["config_form"] for c in V4_CASES}
    assert layouts == {"native", "hf", "modules"} and forms == {"deepseek", "hf5", "hub"}
    kinds = {m for c in V4_CASES for m in model(c).config.compress_ratios}
    assert {0, 4, 8} <= kinds                      # sliding, CSA, HCA (rate 8 in the fixtures)
    assert any(model(c).hash_moe_layers for c in V4_CASES)
    assert {model(c).config.scoring_func for c in V4_CASES} >= {"sqrtsoftplus", "sigmoid"}
    assert all(data(c)[0]["index_choices"] > 0 for c in V4_CASES if 4 in model(c).config.compress_ratios)
    assert sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file()) < 4.5e6


@pytest.mark.parametrize("case", CASES)
def test_stateless_logits_match_transformers(case):
    info, exp = data(case)
    ids = exp["prompt_ids"].tolist() + exp["generated_ids"].tolist()
    got, ref = model(case).logits(ids), exp["logits"]
    err = float(np.abs(got - ref).max())
    assert err <= tolerance(ref), f"{case} ({'; '.join(info['features'])}): max error {err:.2e}"


@pytest.mark.parametrize("case", CASES)
def test_greedy_generation_matches_transformers(case):
    _, exp = data(case)
    assert list(model(case).generate(exp["prompt_ids"].tolist(), 16)) == exp["generated_ids"].tolist()


@pytest.mark.parametrize("case", V4_CASES)
def test_chunked_prefill_then_decode_match_the_stateless_reference(case):
    """Prefill in two chunks (continuing at cache.length), then one cached decode step per
    token: every position's logits equal transformers' stateless ones."""
    _, exp = data(case)
    m, prompt, gen = model(case), exp["prompt_ids"], exp["generated_ids"]
    cache = m.new_cache()
    first, _ = m.prefill([prompt[:5]], [cache], all_positions=True)
    assert cache.length == 5
    second, _ = m.prefill([prompt[5:]], [cache], all_positions=True)
    rows = [first[0], second[0]] + [m.decode([cache], [t])[0] for t in gen]
    got = np.concatenate(rows)
    assert np.abs(got - exp["logits"]).max() <= tolerance(exp["logits"])
    assert cache.length == len(prompt) + len(gen) and cache.nbytes_used() > 0


@pytest.mark.parametrize("case", V4_CASES)
def test_batched_loop_continues_each_sequence(case):
    _, exp = data(case)
    prompt, gen = exp["prompt_ids"].tolist(), exp["generated_ids"].tolist()
    with GenerationLoop(model(case)) as loop:
        handles = {j: loop.submit(prompt + gen[:j], 16 - j) for j in (0, 3, 7)}
        for j, handle in handles.items():
            assert [s.token_id for s in handle] == gen[j:]


def test_routing_is_reported_for_every_layer_and_hash_layers_follow_tid2eid():
    case = "v4_sliding_hash_native"
    m = model(case)
    ids = data(case)[1]["prompt_ids"]
    _, routing = m.prefill([ids], all_positions=True)
    assert len(routing) == m.config.num_hidden_layers == len(m.moe_layers)
    assert m.hash_moe_layers == (0,)
    table = np.array(m._ckpt.raw("layers.0.ffn.gate.tid2eid"))
    assert np.array_equal(routing[0][0], table[ids])


def test_mtp_tensors_are_present_and_skipped():
    m = model("v4_sliding_hash_native")
    assert any(n.startswith("mtp.") for n in m._ckpt.names())
    assert m.config.n_mtp_layers == 1


def test_kv_bytes_fall_with_compression():
    hca = model("v4_hca_sigmoid_hf")
    c = hca.config
    assert hca.kv_bytes_per_token() == 4 * c.head_dim * sum(1 / m for m in c.compress_ratios if m)
    assert hca.kv_bytes_at(64_000) / 64_000 < hca.kv_bytes_at(100) / 100
    sliding = model("v4_sliding_hash_native")
    assert sliding.kv_bytes_per_token() == 0
    assert sliding.kv_bytes_at(10_000) == sliding.kv_bytes_at(1_000)     # the window ring only


def test_generate_cli_streams_a_reply_from_a_v4_folder(tmp_path):
    """``moe-console generate --model <tiny V4 folder>`` in a subprocess: greedy tokens equal
    the engine's own continuation of the chat-templated prompt."""
    import os
    import subprocess
    import sys
    folder = FIXTURES / "v4_sliding_hash_native"
    proc = subprocess.run([sys.executable, "-c", "import sys; from console.cli import main; sys.exit(main())",
                           "generate", "--model", str(folder), "Hello there",
                           "--temperature", "0", "--max-tokens", "6", "--json"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MOE_CONSOLE_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    tokens = [e["id"] for e in events if e["event"] == "token"]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["completion_tokens"] == len(tokens) > 0
    m = model("v4_sliding_hash_native")
    prompt = m.tokenizer.apply_chat_template([{"role": "user", "content": "Hello there"}])
    expected = list(m.generate(prompt, len(tokens)))
    assert tokens == expected[:len(tokens)]

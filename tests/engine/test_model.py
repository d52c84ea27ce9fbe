"""Prefill vs latent-cache decode, batched decode, float32 activations, MoE dispatch, routing."""

from __future__ import annotations

import numpy as np
import pytest

import console.engine.attention_mla as attention_mla
import console.engine.ffn as ffn_module
from console.engine import load_model
from console.engine.ffn import MoE

from .checkpoints import write_checkpoint

YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "mscale": 1.0,
        "mscale_all_dim": 1.0, "beta_fast": 32, "beta_slow": 1}
VARIANTS = {
    "v3": ("v3", {}),
    "v3-yarn-noqlora-halfrot-tied": ("v3", dict(rope_scaling=YARN, q_lora_rank=None, rope_interleave=False,
                                                tie_word_embeddings=True, n_shared_experts=0,
                                                first_k_dense_replace=0)),
    "v2-greedy": ("v2", {}),
    "v2-group": ("v2", dict(topk_method="group_limited_greedy", n_group=4, topk_group=2)),
    "mixtral": ("mixtral", {}),
    "mixtral-sliding": ("mixtral", dict(sliding_window=5)),
}
rng = np.random.default_rng(0)
IDS = [int(i) for i in rng.integers(0, 96, 80)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: write_checkpoint(root / name, arch, **kw) for name, (arch, kw) in VARIANTS.items()}


def decode_logits(model, ids, prompt_len):
    """Logits at every position via prefill of ``prompt_len`` tokens then one decode per token."""
    cache = model.new_cache()
    first, _ = model.prefill([np.array(ids[:prompt_len])], [cache], all_positions=True)
    rows = list(first[0])
    for tok in ids[prompt_len:]:
        logits, _ = model.decode([cache], [tok])
        rows.append(logits[0])
    return np.array(rows)


# the fold modes only exist for MLA; the GQA path has a single form
FOLD_CASES = [(name, fold) for name in sorted(VARIANTS)
              for fold in (("auto",) if name.startswith("mixtral") else ("auto", "always", "never"))]


@pytest.mark.parametrize("name,fold", FOLD_CASES)
def test_cached_decode_equals_logits_at_every_position(folders, name, fold):
    model = load_model(folders[name], fold=fold)
    want = model.logits(IDS)                    # 80 tokens: the cache grows past its first 64 rows
    got = decode_logits(model, IDS, 1)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-4
    got = decode_logits(model, IDS, 30)
    assert np.abs(got - want).max() < 1e-4


def test_fold_modes_choose_different_matrices(folders):
    always = load_model(folders["v3"], fold="always").layer(0).attn
    never = load_model(folders["v3"], fold="never").layer(0).attn
    assert always.fold_q and always.fold_o and always.w_uk is None and always.w_uv_t is None
    assert not never.fold_q and not never.fold_o and never.w_o_abs is None


def test_batched_decode_of_different_lengths_equals_single_sequences(folders):
    for name in ("v3", "mixtral-sliding"):
        model = load_model(folders[name])
        prompts = [np.array(IDS[:3]), np.array(IDS[10:19]), np.array(IDS[30:44])]
        nexts = [IDS[50:56], IDS[60:66], IDS[70:76]]
        caches = [model.new_cache() for _ in prompts]
        firsts, _ = model.prefill(prompts, caches)                 # several prompts in one pass
        batched = [[f] for f in firsts]
        for step in range(6):
            logits, _ = model.decode(caches, [n[step] for n in nexts])
            for b in range(3):
                batched[b].append(logits[b])
        for b, prompt in enumerate(prompts):
            single = decode_logits(model, list(prompt) + nexts[b], len(prompt))[len(prompt) - 1:]
            assert np.abs(np.array(batched[b]) - single).max() < 1e-5, (name, b)
            full = model.logits(list(prompt) + nexts[b])[len(prompt) - 1:]
            assert np.abs(np.array(batched[b]) - full).max() < 1e-4, (name, b)


def test_prefill_query_blocks_do_not_change_results(folders, monkeypatch):
    model = load_model(folders["v3"])
    want = model.logits(IDS)
    monkeypatch.setattr(attention_mla, "QUERY_BLOCK", 7)
    np.testing.assert_allclose(model.logits(IDS), want, atol=1e-5, rtol=0)


def test_every_activation_is_float32(folders):
    for name in ("v3", "mixtral"):
        model = load_model(folders[name]).prepare()
        seen = []

        def spy(fn):
            def wrapper(*args):
                for a in args:
                    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                        seen.append(a.dtype)
                out = fn(*args)
                for o in (out if isinstance(out, tuple) else (out,)):
                    if isinstance(o, np.ndarray) and o.dtype.kind == "f":
                        seen.append(o.dtype)
                return out
            return wrapper

        class SpyFFN:   # both the batched call and the batch-1 ``decode_one`` path
            def __init__(self, ffn):
                self.call, self.decode_one = spy(ffn), spy(ffn.decode_one)

            def __call__(self, h):
                return self.call(h)

        for i in range(model.config.num_hidden_layers):
            layer = model.layer(i)
            layer.attn.prefill = spy(layer.attn.prefill)
            layer.attn.decode = spy(layer.attn.decode)
            if hasattr(layer.attn, "decode_one"):
                layer.attn.decode_one = spy(layer.attn.decode_one)
            layer.ffn = SpyFFN(layer.ffn)
        tokens = list(model.generate(IDS[:5], 4))
        assert len(tokens) == 4
        assert seen and all(d == np.float32 for d in seen), set(seen)
        assert model.logits(IDS[:4]).dtype == np.float32
        assert model.embed(np.array([1, 2])).dtype == np.float32


def test_moe_dispatch_groups_tokens_by_expert(folders, monkeypatch):
    model = load_model(folders["v3"])
    moe = model.layer(2).ffn
    assert isinstance(moe, MoE)
    h = np.random.default_rng(3).standard_normal((40, 32)).astype(np.float32)
    out, idx, w = moe(h)
    for n in range(40):                                  # the one-token path agrees token by token
        one, idx1, w1 = moe(h[n:n + 1])
        assert set(idx1[0]) == set(idx[n])
        np.testing.assert_allclose(one[0], out[n], atol=1e-5, rtol=0)
    for n in range(3):                                   # ... and so does the batch-1 decode path
        one, idx1, _ = moe.decode_one(h[n:n + 1])
        assert set(idx1[0]) == set(idx[n])
        np.testing.assert_allclose(one[0], out[n], atol=1e-5, rtol=0)
    calls = []
    real = ffn_module.lin_into
    monkeypatch.setattr(ffn_module, "lin_into", lambda x, wt, o: calls.append(x.shape[0]) or real(x, wt, o))
    moe._dispatch(h, idx, w)
    assert len(calls) == 2 * len(np.unique(idx))         # one gate_up + one down per active expert
    assert sum(calls) == 2 * idx.size                    # ... each over all of that expert's tokens


def test_stream_routing_steps(folders):
    model = load_model(folders["v3"])
    cfg = model.config
    steps = list(model.stream(IDS[:6], 5, routing=True))
    assert len(steps) == 5 and steps[0].prefill and not any(s.prefill for s in steps[1:])
    assert model.moe_layers == (1, 2)
    for s in steps:
        assert len(s.routing) == len(model.moe_layers)
        for experts in s.routing:
            assert len(experts) == cfg.num_experts_per_tok == len(set(experts))
            assert all(0 <= e < cfg.n_routed_experts for e in experts)
    # the first step's routing is the last prompt position's, ordered by weight
    _, routing = model.prefill([np.array(IDS[:6])])
    for (idx, w), experts in zip(routing, steps[0].routing):
        order = np.argsort(-w[0])
        assert tuple(idx[0][order]) == experts
    assert all(s.routing is None for s in model.stream(IDS[:6], 2))


def test_kv_cache_bytes_per_token(folders):
    v3 = load_model(folders["v3"])
    assert v3.kv_bytes_per_token() == 3 * (16 + 8) * 4          # latent + rope key only
    cache = v3.new_cache()
    v3.prefill([np.array(IDS[:10])], [cache])
    assert cache.nbytes_used() == 10 * v3.kv_bytes_per_token()
    mix = load_model(folders["mixtral"])
    assert mix.kv_bytes_per_token() == 2 * 2 * 2 * 16 * 4      # layers * (k, v) * kv heads * head_dim


def test_decode_weight_bytes(folders):
    model = load_model(folders["v3"])
    one, many = model.decode_weight_bytes(1), model.decode_weight_bytes(64)
    cfg = model.config
    expert = 3 * cfg.moe_intermediate_size * cfg.hidden_size * 4
    assert one > model.lm_head.nbytes + 2 * cfg.num_experts_per_tok * expert
    # a big batch touches (nearly) every expert in both MoE layers, and reads 63 more embedding rows
    extra = many - one - 63 * cfg.hidden_size * 4
    assert 0.99 * 2 * (8 - 2) * expert < extra <= 2 * (8 - 2) * expert


def test_lin_gemv_and_gemm_paths_agree():
    from console.engine.ops import GEMV_ROWS, lin, transposed

    rng = np.random.default_rng(8)
    w = rng.standard_normal((37, 29)).astype(np.float32)
    wt = transposed(w)
    assert wt.shape == (29, 37) and wt.flags.c_contiguous
    for m in (1, 2, GEMV_ROWS, GEMV_ROWS + 1, 16):
        x = rng.standard_normal((m, 29)).astype(np.float32)
        y = lin(x, wt)
        assert y.shape == (m, 37) and y.dtype == np.float32
        np.testing.assert_allclose(y, x.astype(np.float64) @ w.T.astype(np.float64), atol=1e-4, rtol=1e-5)


def test_blas_thread_control_round_trips():
    from console.engine import blas

    before = blas.get_threads()
    if before is None:                      # numpy built against a BLAS other than OpenBLAS
        assert blas.set_threads(1) is False
        return
    try:
        assert blas.set_threads(1) and blas.get_threads() == 1
    finally:
        blas.set_threads(before)
    assert blas.get_threads() == before

"""The V4 engine's fast paths agree with its general ones: one-token mHC mixing (Python floats)
with the numpy path, the one-token MoE with the dispatch path, prefill in many small query blocks
with one block (scores, sink softmax and the indexer's per-block top-k), and the layer's shared
weight buffer with the arrays it replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from console.engine import load_model
from console.engine.v4 import attention
from console.engine.v4.hyper import HyperConnection

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v4"


def test_one_token_mhc_mixing_equals_the_numpy_path():
    rng = np.random.default_rng(3)
    hc, H = 4, 32
    site = HyperConnection(rng.standard_normal(((2 + hc) * hc, hc * H)).astype(np.float32) * 0.3,
                           rng.standard_normal((2 + hc) * hc).astype(np.float32),
                           rng.random(3).astype(np.float32) + 0.5, hc=hc, iters=20, hc_eps=1e-6, norm_eps=1e-6)
    X = rng.standard_normal((1, hc, H)).astype(np.float32)
    pre_one, mix_one = site.weights(X)                       # the Python-float path (N = 1, hc = 4)
    pre_many, mix_many = site.weights(np.concatenate([X, X]))
    assert np.allclose(pre_one, pre_many[:1], atol=1e-6) and np.allclose(mix_one, mix_many[:1], atol=1e-6)
    assert np.allclose(mix_one[0, :hc].sum(axis=0), 1.0, atol=1e-4)      # Sinkhorn: columns sum to 1
    out = rng.standard_normal((1, H)).astype(np.float32)
    expected = mix_one[0, :hc].T @ X[0] + mix_one[0, hc][:, None] * out
    assert np.allclose(site.expand(X, out, mix_one)[0], expected, atol=1e-5)


@pytest.mark.parametrize("case, layer", [("v4_sliding_hash_native", 0), ("v4_hca_sigmoid_hf", 1)])
def test_one_token_moe_equals_the_dispatch_path(case, layer):
    ffn = load_model(FIXTURES / case).layer(layer).ffn
    rng = np.random.default_rng(5)
    h = rng.standard_normal((3, ffn.w_in.shape[-2])).astype(np.float32)
    ids = np.array([7, 11, 13])
    many, idx_many, w_many = ffn(h, ids)
    for row in range(3):
        one, idx_one, w_one = ffn.decode_one(h[row:row + 1], ids[row:row + 1])
        assert np.allclose(one[0], many[row], atol=1e-5)
        order_one, order_many = np.argsort(idx_one[0]), np.argsort(idx_many[row])
        assert idx_one[0][order_one].tolist() == idx_many[row][order_many].tolist()
        assert np.allclose(w_one[0][order_one], w_many[row][order_many], atol=1e-6)


@pytest.mark.parametrize("case", ["v4_csa_indexer_modules", "v4_hca_sigmoid_hf"])
def test_prefill_in_small_query_blocks_equals_one_block(case, monkeypatch):
    model = load_model(FIXTURES / case)
    ids = np.random.default_rng(9).integers(3, model.config.vocab_size, 40)
    whole = model.logits(ids)
    picks = model.indexer_picks(ids) if 4 in model.config.compress_ratios else {}
    monkeypatch.setattr(attention, "BLOCK", 16)
    monkeypatch.setattr(attention, "BLOCK_FLOATS", 1)          # the minimum block: 16 queries
    assert np.abs(model.logits(ids) - whole).max() <= 1e-5
    for layer, rows in (model.indexer_picks(ids) if picks else {}).items():
        assert [r.tolist() for r in rows] == [r.tolist() for r in picks[layer]]


def test_layer_matrices_share_one_buffer_in_decode_order():
    layer = load_model(FIXTURES / "v4_csa_indexer_modules").layer(1)
    arrays = [layer.attn_hc.w, layer.attn.w_h, layer.attn.w_q, layer.attn.wo_a, layer.attn.wo_b,
              layer.attn.indexer.w_weights, layer.ffn_hc.w, layer.ffn.w_in, layer.ffn.w_shared_down]
    bases = {id(a.base) for a in arrays}
    assert len(bases) == 1 and all(a.flags.c_contiguous for a in arrays)
    starts = [a.__array_interface__["data"][0] for a in arrays]
    assert starts == sorted(starts) and all(s % 64 == 0 for s in np.diff(starts))


@pytest.mark.parametrize("case", ["v4_csa_indexer_modules", "v4_hca_sigmoid_hf", "v4_sliding_hash_native"])
def test_cache_bytes_held_equal_kv_bytes_at(case):
    """What a cache holds after n tokens (prefill, then one-token steps) is what
    ``kv_bytes_at(n)`` says: ring, entries, open windows, CSA's previous halves."""
    model = load_model(FIXTURES / case)
    cache = model.new_cache()
    model.prefill([np.arange(3, 40)], [cache])
    for n in range(37, 60):
        assert cache.nbytes_used() == model.kv_bytes_at(n), n
        model.decode([cache], [n % 50 + 3])

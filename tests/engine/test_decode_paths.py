"""The speed paths give the same numbers: column-chunked weights (``ops.pack``), the batch-1
decode path (``decode_one``), the one-token router, and the per-step weight-byte accounting."""

from __future__ import annotations

import numpy as np
import pytest

import console.engine.ops as ops
from console.engine import load_model
from console.engine.ffn import MoE
from console.engine.routing import route_v3

from .checkpoints import write_checkpoint

rng = np.random.default_rng(3)
IDS = [int(i) for i in rng.integers(0, 96, 40)]


@pytest.fixture(scope="module")
def v3_folder(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("paths") / "v3", "v3")


def test_pack_chunks_wide_inputs_and_lin_matches_float64():
    w = rng.standard_normal((96, ops.CHUNK_MIN_IN)).astype(np.float32)     # (out, in)
    wt = ops.transposed(w)
    assert wt.shape == (96 // ops.CHUNK_COLS, ops.CHUNK_MIN_IN, ops.CHUNK_COLS) and wt.flags.c_contiguous
    assert np.array_equal(wt[1], w.T[:, ops.CHUNK_COLS:2 * ops.CHUNK_COLS])
    for m in (1, 2, ops.GEMV_ROWS + 1, 16, ops.UNPACK_ROWS):
        x = rng.standard_normal((m, ops.CHUNK_MIN_IN)).astype(np.float32)
        y = ops.lin(x, wt)
        assert y.shape == (m, 96) and y.dtype == np.float32
        np.testing.assert_allclose(y, x.astype(np.float64) @ w.T.astype(np.float64), atol=1e-4, rtol=1e-5)
        buffer = np.full((m + 2, 96), 7.0, np.float32)      # into rows 1..m of a bigger buffer
        assert ops.lin_into(x, wt, buffer[1:m + 1]) is not None
        np.testing.assert_array_equal(buffer[1:m + 1], y)
        assert (buffer[0] == 7).all() and (buffer[-1] == 7).all()
    # narrow inputs with wide outputs, or widths that are not whole chunks, stay (in, out)
    wide = ops.CHUNK_NARROW_OUT + ops.CHUNK_COLS
    assert ops.transposed(np.ones((wide, ops.CHUNK_MIN_IN - 1))).shape == (ops.CHUNK_MIN_IN - 1, wide)
    assert ops.transposed(w[:95]).shape == (ops.CHUNK_MIN_IN, 95)
    # narrow outputs are chunked whatever the input; half-width chunks when the width needs them
    assert ops.transposed(np.ones((48, 16))).shape == (3, 16, 16)
    assert ops.transposed(np.ones((wide, ops.CHUNK_MIN_IN))).ndim == 3
    # a stack of experts keeps its leading axis; each member equals its own packing
    stack = rng.standard_normal((3, ops.CHUNK_MIN_IN, 64)).astype(np.float32)
    packed = ops.pack(stack)
    assert packed.shape == (3, 64 // ops.CHUNK_COLS, ops.CHUNK_MIN_IN, ops.CHUNK_COLS)
    assert all(np.array_equal(packed[e], ops.pack(stack[e])) for e in range(3))


def _decode_all(model, ids, prompt_len, batch_rows=1):
    """Logits of every position after the prompt via cached decode; ``batch_rows`` copies of the
    sequence are decoded together (1: the batch-1 path, >1: the batched path)."""
    caches = [model.new_cache() for _ in range(batch_rows)]
    firsts, _ = model.prefill([np.array(ids[:prompt_len])] * batch_rows, caches)
    rows, routes = [firsts[0]], []
    for tok in ids[prompt_len:]:
        logits, routing = model.decode(caches, [tok] * batch_rows)
        rows.append(logits[0])
        routes.append([sorted(idx[0].tolist()) for idx, _ in routing])
    return np.array(rows), routes


@pytest.mark.parametrize("fold", ["always", "never"])
def test_batch1_path_equals_batched_path(v3_folder, fold):
    model = load_model(v3_folder, fold=fold)
    one, routes_one = _decode_all(model, IDS, 5, batch_rows=1)
    two, routes_two = _decode_all(model, IDS, 5, batch_rows=2)
    assert routes_one == routes_two
    np.testing.assert_allclose(one, two, atol=1e-5, rtol=0)


def test_chunked_weights_give_the_same_model(v3_folder, monkeypatch):
    with monkeypatch.context() as unchunked:
        unchunked.setattr(ops, "CHUNK_MIN_IN", 1 << 30)
        unchunked.setattr(ops, "CHUNK_NARROW_OUT", 0)
        plain = load_model(v3_folder).prepare()
    assert plain.lm_head.ndim == 2 and next(plain.layer(i).ffn for i in plain.moe_layers).gate_up.ndim == 3
    want_prefill = plain.logits(IDS)
    want_decode, want_routes = _decode_all(plain, IDS, 3)
    want_batch, _ = _decode_all(plain, IDS, 3, batch_rows=3)
    monkeypatch.setattr(ops, "CHUNK_MIN_IN", 8)
    monkeypatch.setattr(ops, "CHUNK_COLS", 8)
    monkeypatch.setattr(ops, "UNPACK_ROWS", 24)          # the 40-token prefill unpacks
    chunked = load_model(v3_folder).prepare()
    assert chunked.lm_head.ndim == 3
    moe = next(chunked.layer(i).ffn for i in chunked.moe_layers)
    assert isinstance(moe, MoE) and moe.gate_up.ndim == 4 and moe.down.ndim == 4
    np.testing.assert_allclose(chunked.logits(IDS), want_prefill, atol=1e-5, rtol=0)
    got, routes = _decode_all(chunked, IDS, 3)
    assert routes == want_routes
    np.testing.assert_allclose(got, want_decode, atol=1e-5, rtol=0)
    got_batch, _ = _decode_all(chunked, IDS, 3, batch_rows=3)
    np.testing.assert_allclose(got_batch, want_batch, atol=1e-5, rtol=0)


@pytest.mark.parametrize("n_group,topk_group,norm", [(4, 2, True), (1, 1, False), (8, 3, True)])
def test_one_token_router_matches_the_batched_router(n_group, topk_group, norm):
    r = np.random.default_rng(n_group)
    for _ in range(50):
        logits = r.standard_normal((2, 32)).astype(np.float32)
        bias = (0.1 * r.standard_normal(32)).astype(np.float32)
        idx2, w2 = route_v3(logits, bias, 4, n_group, topk_group, norm, 2.5)
        idx1, w1 = route_v3(logits[:1], bias, 4, n_group, topk_group, norm, 2.5)
        assert idx1.shape == (1, 4) and w1.dtype == np.float32
        o1, o2 = np.argsort(idx1[0]), np.argsort(idx2[0])
        assert np.array_equal(idx1[0][o1], idx2[0][o2])
        np.testing.assert_allclose(w1[0][o1], w2[0][o2], rtol=1e-6, atol=0)


def test_decode_weight_bytes_for_counts_the_experts_actually_used(v3_folder):
    model = load_model(v3_folder)
    cfg = model.config
    expert = 3 * cfg.moe_intermediate_size * cfg.hidden_size * 4
    caches = [model.new_cache() for _ in range(3)]
    model.prefill([np.array(IDS[:4]), np.array(IDS[10:16]), np.array(IDS[20:23])], caches)
    _, one = model.decode(caches[:1], [IDS[30]])
    assert model.decode_weight_bytes_for(one) == model.decode_weight_bytes(1)
    _, three = model.decode(caches, IDS[31:34])
    distinct = [np.unique(idx).size for idx, _ in three]
    extra = 2 * cfg.hidden_size * 4 + sum(d - cfg.num_experts_per_tok for d in distinct) * expert
    assert model.decode_weight_bytes_for(three) == model.decode_weight_bytes(1) + extra
    assert max(distinct) > cfg.num_experts_per_tok        # the three tokens did not all agree
    with pytest.raises(Exception, match="MoE layers"):
        model.decode_weight_bytes_for(three[:1])


def _alone(model, ids, prompt_len):
    """Logits of every decoded position of one sequence decoded by itself (batch-1 path)."""
    return _decode_all(model, ids, prompt_len, batch_rows=1)[0][1:]


@pytest.mark.parametrize("fold", ["auto", "never"])
def test_batched_decode_of_ragged_sequences_equals_each_decoded_alone(v3_folder, fold):
    """Sequences of different lengths in one batch (padded latent arena, masked keys), a batch
    whose members change (arena rebuilt), and caches that outgrow their capacity mid-batch all
    give each sequence the logits it gets decoded alone."""
    model = load_model(v3_folder, fold=fold)
    seqs = [[int(i) for i in rng.integers(0, 96, n)] for n in (70, 75, 90)]
    prompts = (3, 20, 9)                      # ragged lengths; 64-token caches grow mid-batch
    alone = [_alone(model, s, p) for s, p in zip(seqs, prompts)]
    caches = [model.new_cache() for _ in seqs]
    model.prefill([np.array(s[:p]) for s, p in zip(seqs, prompts)], caches)
    got = [[] for _ in seqs]
    members = [0, 1, 2]
    step = 0
    while members:
        if step == 30:                         # sequence 1 leaves; the arena is rebuilt for 0, 2
            caches[1].detach()
            members = [0, 2]
        ids = [seqs[b][prompts[b] + len(got[b])] for b in members]
        logits, _ = model.decode([caches[b] for b in members], ids)
        for row, b in enumerate(members):
            got[b].append(logits[row])
        members = [b for b in members if prompts[b] + len(got[b]) < len(seqs[b]) and not (b == 1 and step >= 29)]
        step += 1
    for b in (0, 1, 2):                        # float32 rounding only (different BLAS calls)
        ref = alone[b][:len(got[b])]
        assert len(got[b]) == (len(alone[b]) if b != 1 else 30)
        np.testing.assert_allclose(np.array(got[b]), ref, atol=1e-4, rtol=1e-5)
        assert (np.array(got[b]).argmax(axis=1) == ref.argmax(axis=1)).all()


def test_detached_cache_keeps_its_tokens_and_leaves_the_arena(v3_folder):
    model = load_model(v3_folder)
    caches = [model.new_cache() for _ in range(2)]
    model.prefill([np.array(IDS[:7]), np.array(IDS[:4])], caches)
    model.decode(caches, [1, 2])
    assert caches[0].arena is not None and caches[0].arena is caches[1].arena
    held = caches[0].data[:, :caches[0].length].copy()
    caches[0].detach()
    assert caches[0].arena is None and caches[0].data.base is None
    np.testing.assert_array_equal(caches[0].data[:, :caches[0].length], held)
    twin = caches[1].fork(caches[1].length)      # forks of an arena member are standalone too
    assert twin.arena is None and twin.data.base is None

"""The engine against an independent float64 implementation written from the spec equations.

``naive_logits`` below is deliberately simple: it reads the raw tensors by their HF names and
follows shared/reference/engine-spec.md literally -- per token, per head, per expert loops, RoPE
with complex numbers on adjacent pairs (interleaved) or on (i, i + d/2) pairs (rotate-half),
explicit routing -- sharing no code with the engine except the checkpoint writer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from console.engine import load_model

from .checkpoints import make_config, random_tensors, write_folder


def rms(x, w, eps):
    return w * x / np.sqrt(np.mean(x * x) + eps)


def silu(x):
    return x / (1 + np.exp(-x))


def rope_frequencies(cfg, dim):
    rp = cfg.get("rope_scaling") or {}
    theta = cfg["rope_theta"]
    f = theta ** (-np.arange(0, dim, 2) / dim)
    if rp.get("type") != "yarn":
        return f, 1.0
    s, l0 = rp["factor"], rp["original_max_position_embeddings"]
    d = lambda beta: dim * math.log(l0 / (2 * math.pi * beta)) / (2 * math.log(theta))  # noqa: E731
    lo, hi = max(math.floor(d(rp.get("beta_fast", 32))), 0), min(math.ceil(d(rp.get("beta_slow", 1))), dim - 1)
    r = np.clip((np.arange(dim // 2) - lo) / (hi - lo), 0, 1)
    m = lambda mm: 0.1 * mm * math.log(s) + 1  # noqa: E731
    return f * (1 - r) + f / s * r, m(rp["mscale"]) / m(rp["mscale_all_dim"])


def rotate(x, p, freqs, factor, interleaved):
    half = len(x) // 2
    z = x[0::2] + 1j * x[1::2] if interleaved else x[:half] + 1j * x[half:]
    z = z * np.exp(1j * p * freqs) * factor
    out = np.empty_like(x)
    if interleaved:
        out[0::2], out[1::2] = z.real, z.imag
    else:
        out[:half], out[half:] = z.real, z.imag
    return out


def attention(q, k, v, scale, window=None):
    T = len(q)
    out = []
    for t in range(T):
        lo = 0 if window is None else max(0, t - window + 1)
        s = np.array([q[t] @ k[j] for j in range(lo, t + 1)]) * scale
        p = np.exp(s - s.max())
        p /= p.sum()
        out.append(sum(p[j - lo] * v[j] for j in range(lo, t + 1)))
    return np.array(out)


def route(cfg, logits, bias):
    E, k = len(logits), cfg["num_experts_per_tok"]
    arch = cfg["architectures"][0]
    if arch == "DeepseekV3ForCausalLM":
        s = 1 / (1 + np.exp(-logits))
        c = s + bias
        G, kg = cfg["n_group"], cfg["topk_group"]
        groups = c.reshape(G, E // G)
        gscore = np.sort(groups, axis=1)[:, -2:].sum(1)
        keep = np.argsort(-gscore)[:kg]
        c = np.where(np.isin(np.arange(E) // (E // G), keep), c, -np.inf)
        chosen = np.argsort(-c)[:k]
        w = s[chosen]
        if cfg["norm_topk_prob"]:
            w = w / (w.sum() + 1e-20)
        return chosen, w * cfg["routed_scaling_factor"]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    chosen = np.argsort(-p)[:k]
    if arch == "MixtralForCausalLM":
        return chosen, p[chosen] / p[chosen].sum()
    return chosen, p[chosen] * cfg["routed_scaling_factor"]


def naive_logits(cfg, t, ids):
    t = {k: v.astype(np.float64) for k, v in t.items()}
    H, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
    nh = cfg["num_attention_heads"]
    mixtral = cfg["architectures"][0] == "MixtralForCausalLM"
    x = t["model.embed_tokens.weight"][ids]
    T = len(ids)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = np.array([rms(r, t[p + "input_layernorm.weight"], eps) for r in x])
        a = p + "self_attn."
        if mixtral:
            hd, kvh = cfg["head_dim"], cfg["num_key_value_heads"]
            f, fac = rope_frequencies(cfg, hd)
            q = (h @ t[a + "q_proj.weight"].T).reshape(T, nh, hd)
            k = (h @ t[a + "k_proj.weight"].T).reshape(T, kvh, hd)
            v = (h @ t[a + "v_proj.weight"].T).reshape(T, kvh, hd)
            heads = []
            for j in range(nh):
                g = j // (nh // kvh)
                qj = np.array([rotate(q[s, j], s, f, fac, False) for s in range(T)])
                kj = np.array([rotate(k[s, g], s, f, fac, False) for s in range(T)])
                heads.append(attention(qj, kj, v[:, g], hd ** -0.5, cfg.get("sliding_window")))
        else:
            dn, dr, dv, dc = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
            f, fac = rope_frequencies(cfg, dr)
            inter = cfg.get("rope_interleave", True)
            if cfg.get("q_lora_rank", 1536) is None:
                q = h @ t[a + "q_proj.weight"].T
            else:
                cq = np.array([rms(r, t[a + "q_a_layernorm.weight"], 1e-6) for r in h @ t[a + "q_a_proj.weight"].T])
                q = cq @ t[a + "q_b_proj.weight"].T
            q = q.reshape(T, nh, dn + dr)
            ckv = h @ t[a + "kv_a_proj_with_mqa.weight"].T
            c = np.array([rms(r, t[a + "kv_a_layernorm.weight"], 1e-6) for r in ckv[:, :dc]])
            kpe = np.array([rotate(ckv[s, dc:], s, f, fac, inter) for s in range(T)])
            kv = (c @ t[a + "kv_b_proj.weight"].T).reshape(T, nh, dn + dv)
            rp = cfg.get("rope_scaling") or {}
            m = 0.1 * rp["mscale_all_dim"] * math.log(rp["factor"]) + 1 if rp.get("mscale_all_dim") else 1.0
            heads = []
            for j in range(nh):
                qj = np.array([np.concatenate([q[s, j, :dn], rotate(q[s, j, dn:], s, f, fac, inter)]) for s in range(T)])
                kj = np.concatenate([kv[:, j, :dn], kpe], axis=1)
                heads.append(attention(qj, kj, kv[:, j, dn:], (dn + dr) ** -0.5 * m * m))
        x = x + np.concatenate(heads, axis=1) @ t[a + "o_proj.weight"].T
        h = np.array([rms(r, t[p + "post_attention_layernorm.weight"], eps) for r in x])
        out = np.zeros_like(x)
        mlp = p + ("block_sparse_moe." if mixtral else "mlp.")
        names = ("w1", "w3", "w2") if mixtral else ("gate_proj", "up_proj", "down_proj")
        ffn = lambda pre, r: t[pre + names[2] + ".weight"] @ (  # noqa: E731
            silu(t[pre + names[0] + ".weight"] @ r) * (t[pre + names[1] + ".weight"] @ r))
        dense = not mixtral and i < cfg.get("first_k_dense_replace", 0)
        for s in range(T):
            if dense:
                out[s] = ffn(mlp, h[s])
                continue
            chosen, w = route(cfg, t[mlp + "gate.weight"] @ h[s], t.get(mlp + "gate.e_score_correction_bias"))
            out[s] = sum(wi * ffn(mlp + f"experts.{e}.", h[s]) for e, wi in zip(chosen, w))
            if not mixtral and cfg.get("n_shared_experts"):
                out[s] += ffn(mlp + "shared_experts.", h[s])
        x = x + out
    x = np.array([rms(r, t["model.norm.weight"], eps) for r in x])
    head = t["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else t["lm_head.weight"]
    return x @ head.T


YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "mscale": 1.0,
        "mscale_all_dim": 1.0, "beta_fast": 32, "beta_slow": 1}
CASES = {
    "v3-qlora-interleave-groups": make_config("v3"),
    "v3-yarn-noqlora-halfrot-tied-noshared": make_config(
        "v3", rope_scaling=YARN, q_lora_rank=None, rope_interleave=False, tie_word_embeddings=True,
        n_shared_experts=0, first_k_dense_replace=0, norm_topk_prob=False, routed_scaling_factor=1.5),
    "v2-greedy-yarn-mscale": make_config(
        "v2", rope_scaling=dict(YARN, factor=2.0, mscale=0.707, mscale_all_dim=0.707)),
    "mixtral-gqa": make_config("mixtral"),
    "mixtral-sliding": make_config("mixtral", sliding_window=4, num_key_value_heads=1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_logits_match_the_equations(tmp_path, name):
    cfg = CASES[name]
    tensors = random_tensors(cfg, seed=11)
    model = load_model(write_folder(tmp_path / name, cfg, tensors))
    ids = [3, 50, 7, 91, 13, 0, 19, 64, 29]
    want = naive_logits(cfg, tensors, ids)
    got = model.logits(ids)
    assert got.dtype == np.float32 and got.shape == (len(ids), cfg["vocab_size"])
    assert np.abs(got - want).max() < 1e-4 * (1 + np.abs(want).max()), name

"""A compact torch DeepSeek-V3 (MLA + DeepSeekMoE) for training the built-in model.

Contract: parameter and buffer names are exactly those of transformers'
``DeepseekV3ForCausalLM`` (``model.layers.N.self_attn.q_a_proj.weight``,
``model.layers.N.mlp.gate.e_score_correction_bias``,
``model.layers.N.mlp.experts.E.gate_proj.weight`` ...), and the forward pass
computes the same function as transformers 5 with ``rope_interleave=True`` and
the default (unscaled) RoPE: interleaved rope pairs, sigmoid router with the
correction bias used only for selection, group-limited top-k (group score = sum
of the two best biased scores), renormalised top-k weights times
``routed_scaling_factor``, plus a shared expert.  ``export.py`` writes the state
dict of this module, unchanged, as an HF checkpoint.

Training extras that do not change inference: the router also returns the
per-expert load (for the aux-loss-free bias update) and a sequence-level
balance loss.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelShape:
    """Hyper-parameters, named as in the HF config.json of DeepseekV3."""

    vocab_size: int = 8192
    hidden_size: int = 128
    intermediate_size: int = 384
    moe_intermediate_size: int = 128
    num_hidden_layers: int = 5
    num_attention_heads: int = 4
    q_lora_rank: int | None = 96
    kv_lora_rank: int = 64
    qk_nope_head_dim: int = 32
    qk_rope_head_dim: int = 16
    v_head_dim: int = 32
    n_routed_experts: int = 16
    num_experts_per_tok: int = 2
    n_shared_experts: int = 1
    n_group: int = 4
    topk_group: int = 2
    first_k_dense_replace: int = 1
    norm_topk_prob: bool = True
    routed_scaling_factor: float = 2.5
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 1024
    tie_word_embeddings: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate x) * up x)."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rope_tables(s: ModelShape, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin (T, d_r/2) of the default RoPE, one angle per interleaved pair."""
    d = s.qk_rope_head_dim
    inv_freq = 1.0 / (s.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float) / d))
    freqs = torch.arange(seq_len, dtype=torch.float)[:, None] * inv_freq[None, :]
    return freqs.cos(), freqs.sin()


def apply_rope_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]); output de-interleaved, as HF does."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    """Multi-head latent attention (MLA), expanded form for training."""

    def __init__(self, s: ModelShape) -> None:
        super().__init__()
        self.s = s
        h, nh = s.hidden_size, s.num_attention_heads
        self.qk_head_dim = s.qk_nope_head_dim + s.qk_rope_head_dim
        if s.q_lora_rank is None:
            self.q_proj = nn.Linear(h, nh * self.qk_head_dim, bias=False)
        else:
            self.q_a_proj = nn.Linear(h, s.q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(s.q_lora_rank)
            self.q_b_proj = nn.Linear(s.q_lora_rank, nh * self.qk_head_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(h, s.kv_lora_rank + s.qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(s.kv_lora_rank)
        self.kv_b_proj = nn.Linear(s.kv_lora_rank, nh * (s.qk_nope_head_dim + s.v_head_dim), bias=False)
        self.o_proj = nn.Linear(nh * s.v_head_dim, h, bias=False)
        self.scaling = self.qk_head_dim ** -0.5

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        s = self.s
        b, t, _ = x.shape
        nh, dn, dr, dv = s.num_attention_heads, s.qk_nope_head_dim, s.qk_rope_head_dim, s.v_head_dim
        if s.q_lora_rank is None:
            q = self.q_proj(x)
        else:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q = q.view(b, t, nh, dn + dr).transpose(1, 2)
        q_nope, q_rot = q.split([dn, dr], dim=-1)
        ckv = self.kv_a_proj_with_mqa(x)
        c, k_rot = ckv.split([s.kv_lora_rank, dr], dim=-1)
        c = self.kv_a_layernorm(c)
        kv = self.kv_b_proj(c).view(b, t, nh, dn + dv).transpose(1, 2)
        k_nope, v = kv.split([dn, dv], dim=-1)
        q_rot = apply_rope_interleaved(q_rot, cos, sin)
        k_rot = apply_rope_interleaved(k_rot.unsqueeze(1), cos, sin).expand(b, nh, t, dr)
        q = torch.cat([q_nope, q_rot], dim=-1)
        k = torch.cat([k_nope, k_rot], dim=-1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scaling)
        return self.o_proj(o.transpose(1, 2).reshape(b, t, nh * dv))


class Router(nn.Module):
    """Sigmoid scores, bias for selection only, group-limited top-k (HF noaux_tc)."""

    def __init__(self, s: ModelShape) -> None:
        super().__init__()
        self.s = s
        self.weight = nn.Parameter(torch.zeros(s.n_routed_experts, s.hidden_size))
        self.register_buffer("e_score_correction_bias", torch.zeros(s.n_routed_experts))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (N, H) -> (weights (N, k), indices (N, k), scores (N, E))."""
        s = self.s
        scores = F.linear(x.float(), self.weight.float()).sigmoid()
        with torch.no_grad():
            choice = scores + self.e_score_correction_bias
            per = s.n_routed_experts // s.n_group
            group_scores = choice.view(-1, s.n_group, per).topk(2, dim=-1)[0].sum(-1)
            group_idx = group_scores.topk(s.topk_group, dim=-1, sorted=False)[1]
            group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1.0)
            score_mask = group_mask.unsqueeze(-1).expand(-1, s.n_group, per).reshape(-1, s.n_routed_experts)
            choice = choice.masked_fill(score_mask == 0, float("-inf"))
            idx = choice.topk(s.num_experts_per_tok, dim=-1, sorted=False)[1]
        w = scores.gather(1, idx)
        if s.norm_topk_prob:
            w = w / (w.sum(-1, keepdim=True) + 1e-20)
        return w * s.routed_scaling_factor, idx, scores


class MoE(nn.Module):
    def __init__(self, s: ModelShape) -> None:
        super().__init__()
        self.s = s
        self.gate = Router(s)
        self.experts = nn.ModuleList(MLP(s.hidden_size, s.moe_intermediate_size) for _ in range(s.n_routed_experts))
        self.shared_experts = MLP(s.hidden_size, s.moe_intermediate_size * s.n_shared_experts)
        self.last_load: torch.Tensor | None = None  # tokens per expert, last forward
        self.last_balance_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        flat = x.reshape(-1, h)
        w, idx, scores = self.gate(flat)
        k = idx.shape[1]
        e = self.s.n_routed_experts
        flat_idx = idx.reshape(-1)
        order = flat_idx.argsort(stable=True)
        counts = torch.bincount(flat_idx, minlength=e)
        token_of = order // k
        xs = flat.index_select(0, token_of)
        outs = []
        for expert, chunk in zip(self.experts, xs.split(counts.tolist())):
            outs.append(expert(chunk) if chunk.shape[0] else chunk)
        ys = torch.cat(outs) * w.reshape(-1)[order].unsqueeze(1).to(x.dtype)
        routed = torch.zeros_like(flat).index_add_(0, token_of, ys)
        if self.training:
            self.last_load = counts.detach()
            # sequence-level balance loss (DeepSeek-V3 eq. 17-20): E * sum_i f_i * P_i per sequence
            probs = scores / (scores.sum(-1, keepdim=True) + 1e-20)
            p_seq = probs.view(b, t, e).mean(1)
            onehot = torch.zeros(b * t, e, device=x.device).scatter_(1, idx, 1.0)
            f_seq = onehot.view(b, t, e).mean(1) * (e / k)
            self.last_balance_loss = (f_seq * p_seq).sum(-1).mean()
        return routed.view(b, t, h) + self.shared_experts(x)


class DecoderLayer(nn.Module):
    def __init__(self, s: ModelShape, i: int) -> None:
        super().__init__()
        self.self_attn = Attention(s)
        self.mlp = MoE(s) if i >= s.first_k_dense_replace else MLP(s.hidden_size, s.intermediate_size)
        self.input_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, s: ModelShape) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(s.vocab_size, s.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(s, i) for i in range(s.num_hidden_layers))
        self.norm = RMSNorm(s.hidden_size, s.rms_norm_eps)


class DeepseekV3LM(nn.Module):
    """Causal LM; ``forward(ids)`` -> final hidden states (B, T, H) after ``model.norm``."""

    def __init__(self, s: ModelShape) -> None:
        super().__init__()
        self.shape = s
        self.model = Backbone(s)
        self.lm_head = nn.Linear(s.hidden_size, s.vocab_size, bias=False)
        if s.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self._rope_cache: tuple[int, torch.Tensor, torch.Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02) -> None:
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight") or name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, std=std / (2 * self.shape.num_hidden_layers) ** 0.5)
            else:
                nn.init.normal_(p, std=std)

    def rope(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._rope_cache is None or self._rope_cache[0] < t:
            cos, sin = rope_tables(self.shape, max(t, 64))
            self._rope_cache = (t, cos, sin)
        _, cos, sin = self._rope_cache
        return cos[:t], sin[:t]

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        cos, sin = self.rope(ids.shape[1])
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.model.norm(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V)."""
        return self.lm_head(self.hidden(ids))

    def moe_blocks(self) -> list[MoE]:
        return [l.mlp for l in self.model.layers if isinstance(l.mlp, MoE)]

    def param_counts(self) -> tuple[int, int]:
        """(total, active per token); tied embedding counted once in total, head counted as active."""
        s = self.shape
        total = sum(p.numel() for p in self.parameters())
        expert = sum(p.numel() for p in self.moe_blocks()[0].experts[0].parameters()) if self.moe_blocks() else 0
        inactive = len(self.moe_blocks()) * (s.n_routed_experts - s.num_experts_per_tok) * expert
        active = total - inactive - s.vocab_size * s.hidden_size  # embedding lookup is not compute
        if s.tie_word_embeddings:
            active += s.vocab_size * s.hidden_size
        return total, active

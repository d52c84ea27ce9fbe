"""Feed-forward blocks: the dense SwiGLU MLP and the routed MoE block.

Experts are stacked once into two contiguous float32 arrays laid out like every matrix (see
``ops.pack``): ``gate_up`` (E, H, 2I) and ``down`` (E, I, H), or their column-chunked forms
(E, 2I/c, H, c) and (E, H/c, I, c) (see ``ops.chunk_width``). Dispatch groups tokens by expert (a stable
argsort of the (token, slot) pairs by expert id) and runs one ``gate_up`` and one ``down``
product per active expert over all of its tokens, written into shared buffers, with one
SwiGLU for all pairs; there is no loop over tokens. The router and the shared expert's gate/up
read the same input, so their rows are fused into one matrix and computed by a single matmul.
One token (batch-1 decode) takes ``MoE.decode_one``: the same arithmetic in fewer numpy calls."""

from __future__ import annotations

import numpy as np

from .checkpoint import Checkpoint
from .config import ModelConfig
from .ops import lin, lin_into, pack, silu_mul, transposed
from .routing import route_mixtral, route_v2, route_v3
from .tensors import dense_specs, expert_shapes, moe_specs


class DenseMLP:
    def __init__(self, cfg: ModelConfig, ckpt: Checkpoint, layer: int) -> None:
        s = dense_specs(cfg, layer)
        self.inter = cfg.intermediate_size
        self.w_gate_up = transposed(np.concatenate([ckpt.float32(*s["gate"]), ckpt.float32(*s["up"])]))
        self.w_down = transposed(ckpt.float32(*s["down"]))

    def decode_arrays(self, batch: int = 1) -> list[np.ndarray]:
        return [self.w_gate_up, self.w_down]

    def decode_one(self, h: np.ndarray) -> tuple[np.ndarray, None, None]:
        return self(h)

    def __call__(self, h: np.ndarray) -> tuple[np.ndarray, None, None]:
        gu = lin(h, self.w_gate_up)
        return lin(silu_mul(gu[:, :self.inter], gu[:, self.inter:]), self.w_down), None, None


def _load_experts(cfg: ModelConfig, ckpt: Checkpoint, layer: int, specs) -> tuple[np.ndarray, np.ndarray]:
    E, H, inter = cfg.n_routed_experts, cfg.hidden_size, cfg.moe_intermediate_size
    if specs.fused:
        gate_up = ckpt.float32(specs.experts["gate_up"], (E, 2 * inter, H)).transpose(0, 2, 1)
        down = ckpt.float32(specs.experts["down"], (E, H, inter)).transpose(0, 2, 1)
        return pack(gate_up), pack(down)
    shapes = expert_shapes(cfg)
    gate_up = np.empty((E, H, 2 * inter), np.float32)      # transposed: x @ gate_up[e]
    down = np.empty((E, inter, H), np.float32)
    for e in range(E):
        gate_up[e, :, :inter] = ckpt.float32(specs.experts["gate"].format(e=e), shapes["gate"]).T
        gate_up[e, :, inter:] = ckpt.float32(specs.experts["up"].format(e=e), shapes["up"]).T
        down[e] = ckpt.float32(specs.experts["down"].format(e=e), shapes["down"]).T
    return pack(gate_up), pack(down)


class MoE:
    def __init__(self, cfg: ModelConfig, ckpt: Checkpoint, layer: int) -> None:
        specs = moe_specs(cfg, layer, ckpt)
        self.cfg = cfg
        self.E, self.k, self.inter = cfg.n_routed_experts, cfg.num_experts_per_tok, cfg.moe_intermediate_size
        router = ckpt.float32(*specs.router)
        self.shared_width = cfg.n_shared_experts * cfg.moe_intermediate_size if specs.shared else 0
        if specs.shared:
            self.w_in = transposed(
                np.concatenate([router, ckpt.float32(*specs.shared["gate"]), ckpt.float32(*specs.shared["up"])]))
            self.w_shared_down = transposed(ckpt.float32(*specs.shared["down"]))
        else:
            self.w_in = transposed(router)
            self.w_shared_down = None
        self.bias = None
        if specs.bias is not None:
            name, shape = specs.bias
            self.bias = ckpt.float32(name, shape).copy() if name in ckpt else np.zeros(shape, np.float32)
        self.gate_up, self.down = _load_experts(cfg, ckpt, layer, specs)

    def decode_arrays(self, batch: int = 1) -> list[np.ndarray]:
        """The arrays one decode step reads besides the routed experts, whatever ``batch``: the
        router matrix (fused with the shared expert's gate/up rows) and the shared expert's
        down projection. Routed experts are not included: callers add ``expert_nbytes()``
        per expert touched (``expected_experts(batch)``, or the distinct ids routed)."""
        arrays = [self.w_in] + ([self.w_shared_down] if self.w_shared_down is not None else [])
        return arrays

    def expected_experts(self, batch: int) -> float:
        """Expected distinct experts touched by ``batch`` tokens under uniform routing."""
        if batch <= 1:
            return float(self.k)
        return self.E * (1.0 - (1.0 - self.k / self.E) ** batch)

    def expert_nbytes(self) -> int:
        return (self.gate_up[0].nbytes + self.down[0].nbytes) if self.E else 0

    def route(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        if c.router == "v3":
            return route_v3(logits, self.bias, self.k, c.n_group, c.topk_group, c.norm_topk_prob,
                            c.routed_scaling_factor)
        if c.router == "v2":
            return route_v2(logits, self.k, c.topk_method, c.n_group, c.topk_group, c.routed_scaling_factor)
        return route_mixtral(logits, self.k)

    def __call__(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """h (N, H) -> (output (N, H), expert ids (N, k), weights (N, k))."""
        if h.shape[0] == 1:
            return self.decode_one(h)
        E = self.E
        r = lin(h, self.w_in)                                # (N, E [+ 2 I_shared])
        idx, w = self.route(np.ascontiguousarray(r[:, :E]))
        out = self._dispatch(h, idx, w)
        if self.w_shared_down is not None:
            s = self.shared_width
            out += lin(silu_mul(r[:, E:E + s], r[:, E + s:]), self.w_shared_down)
        return out, idx, w

    def decode_one(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`__call__` for one token (batch-1 decode), in fewer numpy calls: the chosen
        experts' and the shared expert's gate/up rows share one SwiGLU, each routing weight
        scales its expert's activation before the down projection, and the k (+1) down
        projections land in one buffer summed once."""
        E, inter, k = self.E, self.inter, self.k
        r = lin(h, self.w_in)[0]
        idx, w = self.route(r[None, :E])
        shared = self.w_shared_down is not None and self.shared_width == inter
        rows = k + 1 if shared else k
        gu = np.empty((rows, 2 * inter), np.float32)
        if shared:
            gu[k] = r[E:]
        experts = idx[0].tolist()
        for j, e in enumerate(experts):
            lin_into(h, self.gate_up[e], gu[j:j + 1])
        act = silu_mul(gu[:, :inter], gu[:, inter:])
        act[:k] *= w[0][:, None]
        ys = np.empty((rows, h.shape[1]), np.float32)
        for j, e in enumerate(experts):
            lin_into(act[j:j + 1], self.down[e], ys[j:j + 1])
        if shared:
            lin_into(act[k:], self.w_shared_down, ys[k:])
        out = ys.sum(axis=0, keepdims=True)
        if self.w_shared_down is not None and not shared:
            s = self.shared_width
            out += lin(silu_mul(r[None, E:E + s], r[None, E + s:]), self.w_shared_down)
        return out, idx, w

    def _dispatch(self, h: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
        return dispatch_experts(h, idx, w, self.gate_up, self.down, self.inter)


def dispatch_experts(h: np.ndarray, idx: np.ndarray, w: np.ndarray, gate_up: np.ndarray, down: np.ndarray,
                     inter: int, act=silu_mul) -> np.ndarray:
    """Many tokens through their routed experts: sort the (token, slot) pairs by expert; one gate/up
    product per active expert over all its tokens into one buffer, ONE activation ``act(gate, up)``
    and weighting for all pairs, then one down product per expert into one output buffer (no
    per-expert temporaries). ``gate_up[e]`` / ``down[e]`` are packed (see ``ops.pack``)."""
    N, k = idx.shape
    flat = idx.ravel()
    order = np.argsort(flat, kind="stable")
    by_expert = flat[order]
    cuts = (np.flatnonzero(by_expert[1:] != by_expert[:-1]) + 1).tolist()
    starts, ends = [0] + cuts, cuts + [N * k]
    experts = by_expert[starts].tolist()
    xs = h[order // k]                                           # (N k, H), grouped by expert
    gu = np.empty((N * k, 2 * inter), np.float32)
    for e, s0, s1 in zip(experts, starts, ends):
        lin_into(xs[s0:s1], gate_up[e], gu[s0:s1])
    a = act(gu[:, :inter], gu[:, inter:])
    a *= w.ravel()[order][:, None]
    ys = np.empty((N * k, h.shape[1]), np.float32)
    for e, s0, s1 in zip(experts, starts, ends):
        lin_into(a[s0:s1], down[e], ys[s0:s1])
    unsorted = np.empty_like(ys)
    unsorted[order] = ys
    return unsorted.reshape(N, k, -1).sum(axis=1)

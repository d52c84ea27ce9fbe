"""DeepSeek-V4's MoE: one shared expert plus routed experts, hash-routed on the first layers.

Router: ``u = W_gate h`` (float32); scores ``sqrt(softplus(u))`` | ``sigmoid(u)`` | ``softmax(u)``.
Learned layers pick the top-k of ``scores + bias`` (the bias selects, never weighs; no expert
groups); hash layers take the experts a frozen table gives the *token id*, ``tid2eid[id]``.
Weights are the chosen scores, renormalised (``+ 1e-20``; see ``V4Config.renormalize``), times
``routed_scaling_factor``. Experts and the shared expert are SwiGLU with the ``swiglu_limit``
clamp (``gate <= L``, ``-L <= up <= L``) when the limit is > 0. Dispatch of many tokens is the
engine's (``ffn.dispatch_experts``) with the clamped activation; one token (batch-1 decode) takes
:meth:`V4MoE.decode_one`: its k experts' and the shared expert's gate/up rows in one buffer, one
activation, the routing weights applied before the down projections, one sum.
"""

from __future__ import annotations

import numpy as np

from ..ffn import dispatch_experts
from ..ops import lin, lin_into, sigmoid, silu_mul
from ..routing import _softmax, _topk
from .config import V4Config
from .layout import MOE_CHUNKS, apply, pack_wide


def sqrt_softplus(u: np.ndarray) -> np.ndarray:
    return np.sqrt(np.logaddexp(np.float32(0.0), u)).astype(np.float32)


SCORES = {"sqrtsoftplus": sqrt_softplus, "sigmoid": sigmoid, "softmax": _softmax}


def clamped_swiglu(limit: float):
    """``silu(min(gate, L)) * clip(up, -L, L)`` (plain SwiGLU when ``limit`` <= 0)."""
    if limit <= 0:
        return silu_mul
    L = np.float32(limit)

    def act(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
        clipped = np.minimum(up, L)
        np.maximum(clipped, -L, out=clipped)
        return silu_mul(np.minimum(gate, L), clipped)
    return act


def _row_shape(stack: np.ndarray) -> tuple[int, ...]:
    """The shape one row's product with a matrix of ``stack`` (E, ...) has, written by
    ``_row_into``: (chunks, 1, c) for column chunks, else (1, out)."""
    return (stack.shape[1], 1, stack.shape[3]) if stack.ndim == 4 else (1, stack.shape[-1])


def _row_into(x: np.ndarray, wt: np.ndarray, out: np.ndarray) -> None:
    """One row ``x`` (1, in) times ``wt`` into ``out`` of ``_row_shape``: one numpy call."""
    if wt.ndim == 3:
        np.matmul(x, wt, out=out)
    else:
        lin_into(x, wt, out)


class V4MoE:
    STREAMED = ("w_in", "w_shared_down")

    def __init__(self, cfg: V4Config, w: dict[str, np.ndarray], hashed: bool) -> None:
        self.cfg, self.hashed = cfg, hashed
        self.E, self.k, self.inter = cfg.n_routed_experts, cfg.num_experts_per_tok, cfg.moe_intermediate_size
        self.w_in = pack_wide(np.concatenate([w["gate"], w["shared_w1"], w["shared_w3"]]).T, MOE_CHUNKS)
        self.w_shared_down = pack_wide(w["shared_w2"].T, MOE_CHUNKS)     # same layout as the experts' down
        self.bias = None if hashed else w["bias"].astype(np.float32)
        self.tid2eid = w["tid2eid"].astype(np.int64) if hashed else None
        self._bias_list = None if hashed else self.bias.tolist()
        self.gate_up = pack_wide(w["experts_gate_up"], MOE_CHUNKS)
        self.down = pack_wide(w["experts_down"], MOE_CHUNKS)
        self.score = SCORES[cfg.scoring_func]
        self.act = clamped_swiglu(cfg.swiglu_limit)

    def decode_arrays(self, batch: int = 1) -> list[np.ndarray]:
        return [self.w_in, self.w_shared_down]

    def expert_nbytes(self) -> int:
        return self.gate_up[0].nbytes + self.down[0].nbytes

    def expected_experts(self, batch: int) -> float:
        return float(self.k) if batch <= 1 else self.E * (1.0 - (1.0 - self.k / self.E) ** batch)

    def route(self, logits: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = self.score(np.ascontiguousarray(logits))
        idx = self.tid2eid[ids] if self.hashed else _topk(scores + self.bias, self.k)
        w = np.take_along_axis(scores, idx, axis=1)
        if self.cfg.renormalize:
            w = w / (w.sum(axis=1, keepdims=True) + np.float32(1e-20))
        return idx, (w * np.float32(self.cfg.routed_scaling_factor)).astype(np.float32)

    def route_one(self, logits: np.ndarray, token: int) -> tuple[list[int], list[float]]:
        """:meth:`route` of one token (logits (E,)) as Python lists: the scores in numpy, the
        choice of k among E numbers and the weights in Python floats (fewer numpy calls; same
        selection rule)."""
        scores = self.score(logits[None])[0].tolist()
        if self.hashed:
            idx = self.tid2eid[token].tolist()
        else:
            choice = [s + b for s, b in zip(scores, self._bias_list)]
            idx = sorted(range(self.E), key=choice.__getitem__)[-self.k:]
        w = [scores[e] for e in idx]
        scale = self.cfg.routed_scaling_factor
        if self.cfg.renormalize:
            scale /= sum(w) + 1e-20
        return idx, [v * scale for v in w]

    def __call__(self, h: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """h (N, H), token ids (N,) -> (output (N, H), expert ids (N, k), weights (N, k))."""
        if h.shape[0] == 1:
            return self.decode_one(h, ids)
        E, I = self.E, self.inter
        r = lin(h, self.w_in)
        idx, w = self.route(r[:, :E], ids)
        out = dispatch_experts(h, idx, w, self.gate_up, self.down, I, self.act)
        out += lin(self.act(r[:, E:E + I], r[:, E + I:]), self.w_shared_down)
        return out, idx, w

    def decode_one(self, h: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`__call__` for one token, in fewer numpy calls (same arithmetic)."""
        E, I, k = self.E, self.inter, self.k
        r = apply(h, self.w_in)
        experts, w = self.route_one(r[0, :E], int(ids[0]))
        weights = np.array(w + [1.0], np.float32)          # the shared expert's weight is 1
        gate_up, down = self.gate_up, self.down
        gu = np.empty((k + 1,) + _row_shape(gate_up), np.float32)
        gu[k] = r[0, E:].reshape(gu.shape[1:])
        for j, e in enumerate(experts):
            _row_into(h, gate_up[e], gu[j])
        gu = gu.reshape(k + 1, 2 * I)
        act = self.act(gu[:, :I], gu[:, I:])
        ys = np.empty((k + 1,) + _row_shape(down), np.float32)
        for j, e in enumerate(experts):
            _row_into(act[j:j + 1], down[e], ys[j])
        _row_into(act[k:], self.w_shared_down, ys[k])
        return (weights @ ys.reshape(k + 1, -1))[None], np.array([experts]), weights[None, :k]

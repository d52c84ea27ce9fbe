"""MoE routers, exactly as transformers 5.x computes them (float32).

Each returns ``(indices (N, k) int64, weights (N, k) float32)``; the order of the k chosen experts
is unspecified (as with ``torch.topk(sorted=False)``).
"""

from __future__ import annotations

import numpy as np

from .ops import sigmoid


def _topk(scores: np.ndarray, k: int) -> np.ndarray:
    if k == scores.shape[1]:
        return np.broadcast_to(np.arange(k), scores.shape).copy()
    return np.argpartition(-scores, k - 1, axis=1)[:, :k]


def _keep_groups(group_scores: np.ndarray, topk_group: int, experts_per_group: int) -> np.ndarray:
    """Boolean (N, E) mask of experts whose group is among the ``topk_group`` best."""
    n, g = group_scores.shape
    keep = np.zeros((n, g), bool)
    np.put_along_axis(keep, _topk(group_scores, topk_group), True, axis=1)
    return np.repeat(keep, experts_per_group, axis=1)


def route_v3(logits: np.ndarray, bias: np.ndarray, k: int, n_group: int, topk_group: int,
             norm_topk_prob: bool, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """DeepSeek-V3 (noaux_tc): sigmoid affinities; bias for selection only; group-limited top-k."""
    if logits.shape[0] == 1:
        return _route_v3_one(logits[0], bias, k, n_group, topk_group, norm_topk_prob, scale)
    scores = sigmoid(logits)
    choice = scores + bias
    if n_group > 1 and topk_group < n_group:
        n, E = choice.shape
        per = E // n_group
        grouped = choice.reshape(n, n_group, per)
        top2 = np.partition(grouped, per - 2, axis=2)[:, :, per - 2:].sum(axis=2)
        choice = np.where(_keep_groups(top2, topk_group, per), choice, np.float32(-np.inf))
    idx = _topk(choice, k)
    w = np.take_along_axis(scores, idx, axis=1)
    if norm_topk_prob:
        w /= w.sum(axis=1, keepdims=True) + 1e-20
    w *= scale
    return idx, w


def _route_v3_one(logits: np.ndarray, bias: np.ndarray, k: int, n_group: int, topk_group: int,
                  norm_topk_prob: bool, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``route_v3`` for a single token (batch-1 decode): the affinities in float32 numpy, the
    selection (a few dozen numbers) in plain Python, which costs fewer calls than numpy's."""
    scores = sigmoid(logits)
    choice = (scores + bias).tolist()
    E = len(choice)
    if n_group > 1 and topk_group < n_group:
        per = E // n_group
        group_score = []
        for g in range(n_group):
            best = sorted(choice[g * per:(g + 1) * per])
            group_score.append(best[-1] + best[-2])
        kept = sorted(range(n_group), key=group_score.__getitem__)[n_group - topk_group:]
        candidates = [e for g in kept for e in range(g * per, (g + 1) * per)]
    else:
        candidates = range(E)
    idx = np.array(sorted(candidates, key=choice.__getitem__)[-k:])
    w = scores[idx]
    if norm_topk_prob:
        w /= w.sum() + 1e-20
    w *= scale
    return idx[None], w[None]


def _softmax(logits: np.ndarray) -> np.ndarray:
    p = logits - logits.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def route_v2(logits: np.ndarray, k: int, method: str, n_group: int, topk_group: int,
             scale: float) -> tuple[np.ndarray, np.ndarray]:
    """DeepSeek-V2: softmax; greedy or group_limited_greedy (other groups zeroed); no renormalisation."""
    p = _softmax(logits)
    if method == "group_limited_greedy" and n_group > 1 and topk_group < n_group:
        n, E = p.shape
        per = E // n_group
        group_max = p.reshape(n, n_group, per).max(axis=2)
        p = np.where(_keep_groups(group_max, topk_group, per), p, np.float32(0.0))
    idx = _topk(p, k)
    w = np.take_along_axis(p, idx, axis=1)
    w *= scale
    return idx, w


def route_mixtral(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mixtral: softmax, top-k, renormalise over the chosen k."""
    p = _softmax(logits)
    idx = _topk(p, k)
    w = np.take_along_axis(p, idx, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    return idx, w

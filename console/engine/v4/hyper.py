"""mHC hyper-connections: V4's ``hc_mult`` residual streams, mixed around every sublayer.

Per token the residual is X (hc, H). At each site (attention, feed-forward):
``a = W_fn . rms(flatten X)`` (no weight) splits into pre (hc), post (hc) and comb (hc x hc) logits;
``pre = sigmoid(a scale0 + base) + eps``, ``post = 2 sigmoid(a scale1 + base)``,
``comb = softmax_rows(a scale2 + base) + eps``, column-normalised, then ``iters - 1`` rounds of
row and column normalisation (Sinkhorn-Knopp; each divides by ``sum + eps``). The sublayer reads
``sum_k pre_k X_k``; the new streams are ``X'_j = post_j F + sum_i comb_ij X_i``. After the last
layer :class:`HyperHead` collapses the streams with ``sigmoid(.) + eps`` weights. float32 for many
tokens; one token (batch-1 decode) computes the (2 + hc) hc mixing numbers in Python floats
(float64) instead, because numpy's per-call cost dominates arrays of 24 numbers: measured 12 us
per site for the hc = 4 Sinkhorn in plain Python against 67 us in numpy (the results agree to
float32 rounding).
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import rms_scale, sigmoid, softmax_inplace


def _mix_logits(flat: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """``w . (flat / rms(flat))`` per row of flat (N, hc H): the scale applied to the few
    outputs instead of the wide input."""
    var = np.einsum("ij,ij->i", flat, flat)[:, None]
    var *= np.float32(1 / flat.shape[1])
    var += np.float32(eps)
    return (flat @ w.T) / np.sqrt(var)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _sinkhorn4(c: list[float], iters: int, e: float) -> list[float]:
    """hc = 4: ``c`` (16 floats, row-major, rows already softmaxed + eps) column-normalised,
    then ``iters - 1`` row + column rounds; unrolled because this runs 16 times per token."""
    a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3 = c
    s0, s1, s2, s3 = a0 + b0 + c0 + d0 + e, a1 + b1 + c1 + d1 + e, a2 + b2 + c2 + d2 + e, a3 + b3 + c3 + d3 + e
    a0, b0, c0, d0, a1, b1, c1, d1 = a0 / s0, b0 / s0, c0 / s0, d0 / s0, a1 / s1, b1 / s1, c1 / s1, d1 / s1
    a2, b2, c2, d2, a3, b3, c3, d3 = a2 / s2, b2 / s2, c2 / s2, d2 / s2, a3 / s3, b3 / s3, c3 / s3, d3 / s3
    for _ in range(iters - 1):
        r = a0 + a1 + a2 + a3 + e
        a0, a1, a2, a3 = a0 / r, a1 / r, a2 / r, a3 / r
        r = b0 + b1 + b2 + b3 + e
        b0, b1, b2, b3 = b0 / r, b1 / r, b2 / r, b3 / r
        r = c0 + c1 + c2 + c3 + e
        c0, c1, c2, c3 = c0 / r, c1 / r, c2 / r, c3 / r
        r = d0 + d1 + d2 + d3 + e
        d0, d1, d2, d3 = d0 / r, d1 / r, d2 / r, d3 / r
        s0, s1, s2, s3 = a0 + b0 + c0 + d0 + e, a1 + b1 + c1 + d1 + e, a2 + b2 + c2 + d2 + e, a3 + b3 + c3 + d3 + e
        a0, b0, c0, d0, a1, b1, c1, d1 = a0 / s0, b0 / s0, c0 / s0, d0 / s0, a1 / s1, b1 / s1, c1 / s1, d1 / s1
        a2, b2, c2, d2, a3, b3, c3, d3 = a2 / s2, b2 / s2, c2 / s2, d2 / s2, a3 / s3, b3 / s3, c3 / s3, d3 / s3
    return [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3]


class HyperConnection:
    STREAMED = ("w",)

    def __init__(self, fn: np.ndarray, base: np.ndarray, scale: np.ndarray, hc: int, iters: int,
                 hc_eps: float, norm_eps: float) -> None:
        self.w = np.ascontiguousarray(fn, dtype=np.float32)      # ((2 + hc) hc, hc H): w @ x streams it
        self.base, self.scale = base.astype(np.float32), scale.astype(np.float32)
        self.hc, self.iters, self.hc_eps, self.norm_eps = hc, iters, np.float32(hc_eps), norm_eps
        s0, s1, s2 = self.scale.tolist()
        self._scales = [s0] * hc + [s1] * hc + [s2] * hc * hc      # per mixing logit, for _weights_one
        self._base = self.base.tolist()

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.w]

    def weights(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X (N, hc, H) -> pre (N, hc) and the mixing (N, hc + 1, hc): comb's hc rows, then post."""
        if X.shape[0] == 1 and self.hc == 4:
            return self._weights_one(X)
        n, hc = X.shape[0], self.hc
        a = _mix_logits(X.reshape(n, -1), self.w, self.norm_eps)
        pre = sigmoid(a[:, :hc] * self.scale[0] + self.base[:hc]) + self.hc_eps
        post = 2 * sigmoid(a[:, hc:2 * hc] * self.scale[1] + self.base[hc:2 * hc])
        comb = softmax_inplace((a[:, 2 * hc:] * self.scale[2] + self.base[2 * hc:]).reshape(n, hc, hc))
        comb += self.hc_eps
        comb /= comb.sum(axis=1, keepdims=True) + self.hc_eps
        for _ in range(self.iters - 1):
            comb /= comb.sum(axis=2, keepdims=True) + self.hc_eps
            comb /= comb.sum(axis=1, keepdims=True) + self.hc_eps
        return pre, np.concatenate([comb, post[:, None, :]], axis=1)

    def _weights_one(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`weights` of one token with hc = 4, the 24 mixing numbers in Python floats."""
        flat = X.reshape(-1)
        r, e = rms_scale(flat, self.norm_eps), float(self.hc_eps)
        z = [v * r * s + b for v, s, b in zip((self.w @ flat).tolist(), self._scales, self._base)]
        pre = [_sigmoid(v) + e for v in z[:4]]
        post = [2.0 * _sigmoid(v) for v in z[4:8]]
        comb = []
        for row in range(8, 24, 4):
            top = max(z[row:row + 4])
            exps = [math.exp(v - top) for v in z[row:row + 4]]
            total = sum(exps)
            comb += [v / total + e for v in exps]
        out = np.array(pre + _sinkhorn4(comb, self.iters, e) + post, np.float32)
        return out[None, :4], out[4:].reshape(1, 5, 4)

    @staticmethod
    def collapse(X: np.ndarray, pre: np.ndarray) -> np.ndarray:
        """The sublayer's input ``sum_k pre_k X_k`` (N, H)."""
        if X.shape[0] == 1:
            return pre @ X[0]
        return np.einsum("nk,nkd->nd", pre, X)

    @staticmethod
    def expand(X: np.ndarray, out: np.ndarray, mixing: np.ndarray) -> np.ndarray:
        """New streams ``post_j out + sum_i comb_ij X_i`` (N, hc, H): one batched product of
        the mixing ``[comb; post]`` with the streams and ``out`` stacked (2x faster than a
        product plus an outer sum at 1024 tokens)."""
        streams = np.concatenate([X, out[:, None, :]], axis=1)                 # (N, hc + 1, H)
        return np.matmul(mixing.transpose(0, 2, 1), streams)


class HyperHead:
    def __init__(self, fn: np.ndarray, base: np.ndarray, scale: np.ndarray, hc_eps: float, norm_eps: float) -> None:
        self.w = np.ascontiguousarray(fn, dtype=np.float32)
        self.base, self.scale = base.astype(np.float32), scale.astype(np.float32)
        self.hc_eps, self.norm_eps = np.float32(hc_eps), norm_eps

    def __call__(self, X: np.ndarray) -> np.ndarray:
        a = _mix_logits(X.reshape(X.shape[0], -1), self.w, self.norm_eps)
        pre = sigmoid(a * self.scale[0] + self.base) + self.hc_eps
        return HyperConnection.collapse(X, pre)

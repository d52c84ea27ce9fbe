"""mHC hyper-connections: V4's ``hc_mult`` residual streams, mixed around every sublayer.

Per token the residual is X (hc, H). At each site (attention, feed-forward):
``a = W_fn . rms(flatten X)`` (no weight) splits into pre (hc), post (hc) and comb (hc x hc) logits;
``pre = sigmoid(a scale0 + base) + eps``, ``post = 2 sigmoid(a scale1 + base)``,
``comb = softmax_rows(a scale2 + base) + eps``, column-normalised, then ``iters - 1`` rounds of
row and column normalisation (Sinkhorn-Knopp; each divides by ``sum + eps``). The sublayer reads
``sum_k pre_k X_k``; the new streams are ``X'_j = post_j F + sum_i comb_ij X_i``. After the last
layer :class:`HyperHead` collapses the streams with ``sigmoid(.) + eps`` weights. float32.
"""

from __future__ import annotations

import numpy as np

from ..ops import lin, sigmoid, softmax_inplace, transposed


def _unit_rms(flat: np.ndarray, eps: float) -> np.ndarray:
    var = np.einsum("ij,ij->i", flat, flat)[:, None] / flat.shape[1]
    return flat / np.sqrt(var + eps)


class HyperConnection:
    def __init__(self, fn: np.ndarray, base: np.ndarray, scale: np.ndarray, hc: int, iters: int,
                 hc_eps: float, norm_eps: float) -> None:
        self.w = transposed(fn)                  # (hc H) -> (2 + hc) hc
        self.base, self.scale = base.astype(np.float32), scale.astype(np.float32)
        self.hc, self.iters, self.hc_eps, self.norm_eps = hc, iters, np.float32(hc_eps), norm_eps

    def decode_arrays(self) -> list[np.ndarray]:
        return [self.w]

    def weights(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X (N, hc, H) -> pre (N, hc), post (N, hc), comb (N, hc, hc)."""
        n, hc = X.shape[0], self.hc
        a = lin(_unit_rms(X.reshape(n, -1), self.norm_eps), self.w)
        pre = sigmoid(a[:, :hc] * self.scale[0] + self.base[:hc]) + self.hc_eps
        post = 2 * sigmoid(a[:, hc:2 * hc] * self.scale[1] + self.base[hc:2 * hc])
        comb = softmax_inplace((a[:, 2 * hc:] * self.scale[2] + self.base[2 * hc:]).reshape(n, hc, hc))
        comb += self.hc_eps
        comb /= comb.sum(axis=1, keepdims=True) + self.hc_eps
        for _ in range(self.iters - 1):
            comb /= comb.sum(axis=2, keepdims=True) + self.hc_eps
            comb /= comb.sum(axis=1, keepdims=True) + self.hc_eps
        return pre, post, comb

    @staticmethod
    def collapse(X: np.ndarray, pre: np.ndarray) -> np.ndarray:
        return np.einsum("nk,nkd->nd", pre, X)

    @staticmethod
    def expand(X: np.ndarray, out: np.ndarray, post: np.ndarray, comb: np.ndarray) -> np.ndarray:
        """New streams ``post_j out + sum_i comb_ij X_i`` (N, hc, H)."""
        mixed = np.matmul(comb.transpose(0, 2, 1), X)
        mixed += post[:, :, None] * out[:, None, :]
        return mixed


class HyperHead:
    def __init__(self, fn: np.ndarray, base: np.ndarray, scale: np.ndarray, hc_eps: float, norm_eps: float) -> None:
        self.w = transposed(fn)
        self.base, self.scale = base.astype(np.float32), scale.astype(np.float32)
        self.hc_eps, self.norm_eps = np.float32(hc_eps), norm_eps

    def __call__(self, X: np.ndarray) -> np.ndarray:
        a = lin(_unit_rms(X.reshape(X.shape[0], -1), self.norm_eps), self.w)
        pre = sigmoid(a * self.scale[0] + self.base) + self.hc_eps
        return HyperConnection.collapse(X, pre)

"""Learned product of experts: a log-linear mix of K log-distributions over the 256 bytes.

Inputs at a position (``F: float64[K, 256]``, each row a log-distribution, floored at :data:`FLOOR`) and a
group index ``g`` (for example a distance bucket) choose the combined distribution::

    q(c) = exp(z(c)) / sum_c' exp(z(c')),      z(c) = sum_k W[g, k] F[k, c]

With the forward prediction ``log p(c | x_<t)``, the backward one ``log p(c | x_>t)`` and the unigram
``log p(c)`` as rows, weights (1, 1, -1) are the product rule under independence of the two sides,
``p(c | left, right) ~ p(c | left) p(c | right) / p(c)``; fitted weights correct for how far that
independence is from true. ``W`` is fitted per group by Newton's method on the mean negative log-likelihood
of held-out targets (convex in ``W``)::

    grad_k  = mean_n (E_q[F_k] - F_k[x_n]),      H_kj = mean_n Cov_q(F_k, F_j) + l2 I

with a backtracking line search; a group with no examples takes the weights of the group before it (group 0
its initial weights).
"""

from __future__ import annotations

import numpy as np

from ..predictor import log_softmax

#: floor of an input log-probability, so that a log 0 stays finite
FLOOR = -30.0


def mix(features: np.ndarray, weights: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """``float64[n, 256]`` log-probabilities ``log q`` of ``features: float64[n, K, 256]`` under
    ``weights: float64[G, K]`` (``groups: int[n]`` picks each position's row; ``None``: row 0)."""
    f = np.maximum(features, FLOOR)
    w = weights[np.zeros(len(f), dtype=np.int64) if groups is None else groups]
    return log_softmax(np.einsum("nk,nkc->nc", w, f))


def _nll(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    lq = log_softmax(np.einsum("k,nkc->nc", w, f))
    return float(-lq[np.arange(len(y)), y].mean())


def fit_group(features: np.ndarray, targets: np.ndarray, init: np.ndarray, iters: int = 30,
              l2: float = 1e-6) -> np.ndarray:
    """Weights ``float64[K]`` minimising the mean ``-log q(x_n)`` over ``features: float64[n, K, 256]`` and
    ``targets: int[n]`` (module docstring), from ``init``."""
    f = np.maximum(np.asarray(features, dtype=np.float64), FLOOR)
    y = np.asarray(targets, dtype=np.int64)
    w = np.asarray(init, dtype=np.float64).copy()
    if len(y) == 0:
        return w
    n, k = len(y), f.shape[1]
    fy = f[np.arange(n), :, y]                              # [n, K]
    loss = _nll(f, y, w)
    for _ in range(iters):
        q = np.exp(log_softmax(np.einsum("k,nkc->nc", w, f)))  # [n, 256]
        ef = np.einsum("nc,nkc->nk", q, f)
        grad = (ef - fy).mean(axis=0) + l2 * w
        eff = np.einsum("nc,nkc,njc->kj", q, f, f) / n
        hess = eff - ef.T @ ef / n + l2 * np.eye(k)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = grad
        t = 1.0
        while t > 1e-4:
            cand = w - t * step
            new = _nll(f, y, cand)
            if new <= loss:
                break
            t *= 0.5
        else:
            break
        done = loss - new < 1e-9
        w, loss = cand, new
        if done:
            break
    return w


def fit(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, n_groups: int,
        init: np.ndarray) -> np.ndarray:
    """``float64[n_groups, K]``: :func:`fit_group` on the positions of each group; an empty group takes the
    previous group's weights (``init`` for group 0)."""
    out = np.tile(np.asarray(init, dtype=np.float64), (n_groups, 1))
    for g in range(n_groups):
        sel = np.flatnonzero(groups == g)
        if len(sel):
            out[g] = fit_group(features[sel], targets[sel], out[g])
        elif g:
            out[g] = out[g - 1]
    return out

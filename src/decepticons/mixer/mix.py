"""Geometric (logistic) mixing of input log-distributions, its weight update and the weight-set choice.

Inputs ``X: float64[n_in, 256]`` (log-distributions), two weight sets ``W1[s1]``, ``W2[s2]``::

    z(c) = sum_i (W1[s1, i] + W2[s2, i]) * X[i, c],      p = softmax(z)

After byte ``x``, both sets follow the gradient of ``log p(x)``::

    W[s, i] += rate * (X[i, x] - sum_c p(c) X[i, c])

where a set whose matrix has one column more than there are inputs counts its updates ``n`` there and
uses ``rate = lr * (1 + 4096 / (1024 + n))`` (young sets learn fast, trained ones settle).
"""

from __future__ import annotations

import math

from ..jit import kernel
from ..memory.kernels import INFO_N, INFO_ROW, INFO_U
from .state import MATCH_LEN


@kernel
def mix_predict(X, W1, s1, W2, s2, z, p):
    """``z`` and ``p = softmax(z)`` of the module docstring; returns the log of the softmax normaliser, so
    ``log p(c) = z(c) - returned``."""
    n_in = X.shape[0]
    for c in range(256):
        z[c] = 0.0
    for i in range(n_in):
        w = W1[s1, i] + W2[s2, i]
        for c in range(256):
            z[c] += w * X[i, c]
    return softmax_into(z, p)


@kernel
def softmax_into(z, p):
    """``p = softmax(z)`` over 256 symbols (max-shifted); returns ``log sum_c exp z(c)``, so
    ``log p(c) = z(c) - returned``."""
    mx = z[0]
    for c in range(1, 256):
        if z[c] > mx:
            mx = z[c]
    tot = 0.0
    for c in range(256):
        e = math.exp(z[c] - mx)
        p[c] = e
        tot += e
    inv = 1.0 / tot
    for c in range(256):
        p[c] *= inv
    return mx + math.log(tot)


@kernel
def mix_update(X, W1, s1, W2, s2, p, byte, lr1, lr2):
    """The weight update of the module docstring for both sets (on the mixer's own ``p``)."""
    n_in = X.shape[0]
    r1 = lr1
    r2 = lr2
    if W1.shape[1] > n_in:
        r1 = lr1 * (1.0 + 4096.0 / (1024.0 + W1[s1, n_in]))
        W1[s1, n_in] += 1.0
    if W2.shape[1] > n_in:
        r2 = lr2 * (1.0 + 4096.0 / (1024.0 + W2[s2, n_in]))
        W2[s2, n_in] += 1.0
    for i in range(n_in):
        # four interleaved partial sums (fixed order, so both paths agree) let the CPU overlap the adds
        e0 = 0.0
        e1 = 0.0
        e2 = 0.0
        e3 = 0.0
        for c in range(0, 256, 4):
            e0 += p[c] * X[i, c]
            e1 += p[c + 1] * X[i, c + 1]
            e2 += p[c + 2] * X[i, c + 2]
            e3 += p[c + 3] * X[i, c + 3]
        g = X[i, byte] - ((e0 + e1) + (e2 + e3))
        W1[s1, i] += r1 * g
        W2[s2, i] += r2 * g


@kernel
def select_set1(info, mstate, use_match):
    """First weight set: ``(highest seen row * 4 + N bucket) * 2 + [u == 1]`` from the chain's ``info``
    (N buckets: <= 1, <= 3, <= 15, more), times the match state (none / shorter than 16 / longer) when
    ``use_match``."""
    n = info[INFO_N]
    if n <= 1:
        b = 0
    elif n <= 3:
        b = 1
    elif n <= 15:
        b = 2
    else:
        b = 3
    det = 1 if info[INFO_U] == 1 else 0
    s = (info[INFO_ROW] * 4 + b) * 2 + det
    if use_match:
        ml = mstate[MATCH_LEN]
        s = s * 3 + (0 if ml <= 0 else (1 if ml < 16 else 2))
    return s

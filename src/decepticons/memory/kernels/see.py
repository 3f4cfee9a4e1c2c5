"""Secondary escape estimation (SEE): the chain's escape probabilities corrected by a learned table.

With ``gamma_formula = (d_r u + b_r) / (N + b_r)`` (:mod:`.chain`) and a cell ``bucket(N, u)`` of
8 count buckets x 4 distinct-follower buckets (32 cells per row)::

    gamma_r = clamp(sigmoid(logit(gamma_formula) + see[r, bucket(N, u)]), 1e-4, 1 - 1e-4)
    p_r(c)  = (1 - gamma_r) * max(n(c) - d_r, 0) / (N - d_r u) + gamma_r * p_{r-1}(c)

``see: float64[n_rows, 32]`` starts at 0 (the formula, up to rounding) and follows the gradient of
``log p_top(x)`` (:func:`see_learn`). Per position, ``see_e[i]`` / ``see_idx[i]`` keep the escape and the
cell used by chained order i (cell -1: unseen context).
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import InputError
from ...jit import kernel
from .chain import INFO_N, INFO_ROW, INFO_U, chain_step, order0_prob, order0_rows
from .tables import MALFORMED, META_N0, META_U0


@kernel
def see_bucket(n, u):
    """Cell of a context with total ``n >= 1`` and ``u >= 1`` distinct followers: ``nb * 4 + ub``."""
    if n <= 3:
        nb = n - 1
    elif n <= 5:
        nb = 3
    elif n <= 8:
        nb = 4
    elif n <= 15:
        nb = 5
    elif n <= 31:
        nb = 6
    else:
        nb = 7
    ub = u - 1 if u < 4 else 3
    return nb * 4 + ub


@kernel
def predict_orders_see(tb, params, slots, P, L, info, see, see_e, see_idx):
    """:func:`~.chain.predict_orders` with the learned escapes of the module docstring on the chain."""
    tot, uniq, heads, nbyte, ncnt, nnext, meta = tb.tot, tb.uniq, tb.heads, tb.nbyte, tb.ncnt, tb.nnext, tb.meta
    orders, discount, escape = params.orders, params.discount, params.escape
    order0_rows(tb, params, slots, P, L)
    hi = 0
    hin = meta[META_N0]
    hiu = meta[META_U0]
    for i in range(orders.shape[0]):
        r = i + 1
        s = slots[i]
        if s < 0 or tot[s] == 0:
            see_idx[i] = -1
            for c in range(256):
                L[r, c] = L[r - 1, c]
            continue
        n = tot[s]
        u = uniq[s]
        d = discount[r]
        g0 = (d * u + escape[r]) / (n + escape[r])
        cell = see_bucket(n, u)
        zz = math.log(g0 / (1.0 - g0)) + see[r, cell]
        g = 1.0 / (1.0 + math.exp(-zz))
        g = min(max(g, 1e-4), 1.0 - 1e-4)
        see_e[i] = g
        see_idx[i] = cell
        inv = (1.0 - g) / (n - d * u)
        lg = math.log(g)
        chain_step(heads, nbyte, ncnt, nnext, s, d, inv, g, lg, P, L, r)
        hi = r
        hin = n
        hiu = u
    info[INFO_ROW] = hi
    info[INFO_N] = hin
    info[INFO_U] = hiu


@kernel
def see_learn(tb, params, slots, see, see_e, see_idx, byte, rate):
    """One gradient step on ``log p_top(byte)`` (the chain's final estimate) w.r.t. every seen order's
    escape logit, back-propagated through the chain (``q_r`` = the order's own discounted estimate)::

        d log p_top(x) / d see_r = (prod_{k > r seen} gamma_k) * (p_{r-1}(x) - q_r(x)) * gamma_r (1 - gamma_r)
                                   / p_top(x)
    """
    keys, heads, tot, uniq, nbyte, ncnt, nnext, c0, meta = tb
    discount, escape = params.discount, params.escape
    no = see_idx.shape[0]
    pv = np.empty(no + 1)
    qv = np.empty(no)
    p = order0_prob(c0, meta, discount[0], escape[0], byte)
    pv[0] = p
    for i in range(no):
        cell = see_idx[i]
        qv[i] = 0.0
        if cell >= 0:
            r = i + 1
            s = slots[i]
            d = discount[r]
            node = heads[s]
            steps = 0
            while node >= 0:
                if nbyte[node] == byte:
                    qv[i] = (ncnt[node] - d) / (tot[s] - d * uniq[s])
                    break
                node = nnext[node]
                steps += 1
                if steps > nnext.shape[0]:
                    raise InputError(MALFORMED)
            g = see_e[i]
            p = g * p + (1.0 - g) * qv[i]
        pv[i + 1] = p
    top = p
    carry = 1.0
    for i in range(no - 1, -1, -1):
        cell = see_idx[i]
        if cell < 0:
            continue
        g = see_e[i]
        see[i + 1, cell] += rate * carry * (pv[i] - qv[i]) * g * (1.0 - g) / top
        carry *= g

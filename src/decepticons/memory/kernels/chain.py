"""The escape chain: interpolated absolute discounting with a PPM-style escape, order 0 upward.

For row r (order 0, then each order of ``params.orders``) with context counts ``n(c)``, total ``N`` and
``u`` distinct followers, discount ``d_r = params.discount[r]`` and escape ``b_r = params.escape[r]``
(0 <= d_r < 1, b_r >= 0, not both 0)::

    p_r(c) = max(n(c) - d_r, 0) / (N + b_r)  +  gamma_r * p_{r-1}(c),    gamma_r = (d_r * u + b_r) / (N + b_r)

with ``p_{-1}`` uniform (1/256); an unseen context (N = 0) leaves ``p_r = p_{r-1}``. Each ``p_r`` sums to 1.
Extra (word) contexts are not chained: their parent is the uniform distribution (:func:`flat_row`).

Buffers (:class:`ChainBuffers`): ``ctxk``/``slots`` int64[n_contexts] (keys, table slots or -1),
``P`` float64[256] (ends as ``p_top``), ``info`` int64[3] = [highest row with a seen context, its N, its u]
(slots INFO_ROW, INFO_N, INFO_U); log-distributions go to ``L: float64[n_rows, 256]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ...jit import kernel
from .tables import META_N0, META_U0

NEG_LOG_256 = -math.log(256.0)

INFO_ROW = 0
INFO_N = 1
INFO_U = 2


class ChainBuffers(NamedTuple):
    """Per-position working buffers of one count table (see the module docstring)."""

    ctxk: np.ndarray
    slots: np.ndarray
    P: np.ndarray
    info: np.ndarray


@kernel
def flat_row(tb, s, d, b, row):
    """``row = log p`` of one context's counts over a uniform floor (no lower order)::

        p(c) = max(n(c) - d, 0) / (N + b) + (d u + b) / (N + b) / 256      (uniform when unseen)
    """
    if s < 0 or tb.tot[s] == 0:
        for c in range(256):
            row[c] = NEG_LOG_256
        return
    inv = 1.0 / (tb.tot[s] + b)
    g = (d * tb.uniq[s] + b) * inv / 256.0
    lg = math.log(g)
    for c in range(256):
        row[c] = lg
    node = tb.heads[s]
    while node >= 0:
        row[tb.nbyte[node]] = math.log(g + (tb.ncnt[node] - d) * inv)
        node = tb.nnext[node]


@kernel
def order0_rows(tb, params, slots, P, L):
    """Start of the chain: ``P = p_0`` and ``L[0] = log p_0`` (order 0 over a uniform floor; one log for
    all unseen bytes), and the unchained rows ``L[i + 1]`` of the extra contexts (:func:`flat_row`)."""
    discount = params.discount
    escape = params.escape
    n0 = tb.meta[META_N0]
    if n0 > 0:
        inv = 1.0 / (n0 + escape[0])
        g = (discount[0] * tb.meta[META_U0] + escape[0]) * inv / 256.0
        lg = math.log(g)
        for c in range(256):
            n = tb.c0[c]
            if n > 0:
                v = g + (n - discount[0]) * inv
                P[c] = v
                L[0, c] = math.log(v)
            else:
                P[c] = g
                L[0, c] = lg
    else:
        for c in range(256):
            P[c] = 1.0 / 256.0
            L[0, c] = NEG_LOG_256
    for i in range(params.orders.shape[0], slots.shape[0]):
        flat_row(tb, slots[i], discount[i + 1], escape[i + 1], L[i + 1])


@kernel
def chain_step(tb, s, d, inv, g, lg, P, L, r):
    """One seen order of the chain: ``P <- g * P + max(n(c) - d, 0) * inv`` over context ``s``'s followers,
    ``L[r] = log P`` (``L[r - 1] + log g`` where no follower changes it)."""
    for c in range(256):
        P[c] *= g
        L[r, c] = L[r - 1, c] + lg
    node = tb.heads[s]
    while node >= 0:
        c = tb.nbyte[node]
        P[c] += (tb.ncnt[node] - d) * inv
        L[r, c] = math.log(P[c])
        node = tb.nnext[node]


@kernel
def predict_orders(tb, params, slots, P, L, info):
    """Fill ``L[r]`` = log p_r (r = 0: order 0, r = i + 1: ``orders[i]``, then the extra contexts' flat
    rows); ``P`` ends as p_top and ``info`` as [highest seen row, its N, its u].

    Untouched entries of ``L[r]`` are ``L[r-1] + log gamma_r``; followers are re-logged from ``P``.
    """
    order0_rows(tb, params, slots, P, L)
    hi = 0
    hin = tb.meta[META_N0]
    hiu = tb.meta[META_U0]
    for i in range(params.orders.shape[0]):
        r = i + 1
        s = slots[i]
        if s < 0 or tb.tot[s] == 0:
            for c in range(256):
                L[r, c] = L[r - 1, c]
            continue
        n = tb.tot[s]
        u = tb.uniq[s]
        d = params.discount[r]
        inv = 1.0 / (n + params.escape[r])
        g = (d * u + params.escape[r]) * inv
        lg = math.log(g)
        chain_step(tb, s, d, inv, g, lg, P, L, r)
        hi = r
        hin = n
        hiu = u
    info[INFO_ROW] = hi
    info[INFO_N] = hin
    info[INFO_U] = hiu


@kernel
def order0_prob(tb, params, byte):
    """``p_0(byte)``: order 0 over the uniform floor (1/256 before anything was counted)."""
    p = 1.0 / 256.0
    n0 = tb.meta[META_N0]
    if n0 > 0:
        inv = 1.0 / (n0 + params.escape[0])
        p = (params.discount[0] * tb.meta[META_U0] + params.escape[0]) * inv / 256.0
        n = tb.c0[byte]
        if n > 0:
            p += (n - params.discount[0]) * inv
    return p


@kernel
def target_logp(tb, params, slots, byte):
    """``log p_top(byte)`` by the same recursion as :func:`predict_orders`, for one byte only (cheap)."""
    p = order0_prob(tb, params, byte)
    for i in range(params.orders.shape[0]):
        r = i + 1
        s = slots[i]
        if s < 0 or tb.tot[s] == 0:
            continue
        inv = 1.0 / (tb.tot[s] + params.escape[r])
        p *= (params.discount[r] * tb.uniq[s] + params.escape[r]) * inv
        node = tb.heads[s]
        while node >= 0:
            if tb.nbyte[node] == byte:
                p += (tb.ncnt[node] - params.discount[r]) * inv
                break
            node = tb.nnext[node]
    return math.log(p)

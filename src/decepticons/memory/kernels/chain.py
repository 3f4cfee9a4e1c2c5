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

from ...errors import InputError
from ...jit import kernel
from .tables import MALFORMED, META_N0, META_U0

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
def flat_row(tot, uniq, heads, nbyte, ncnt, nnext, s, d, b, row):
    """``row = log p`` of one context's counts over a uniform floor (no lower order)::

        p(c) = max(n(c) - d, 0) / (N + b) + (d u + b) / (N + b) / 256      (uniform when unseen)
    """
    if s < 0 or tot[s] == 0:
        for c in range(256):
            row[c] = NEG_LOG_256
        return
    inv = 1.0 / (tot[s] + b)
    g = (d * uniq[s] + b) * inv / 256.0
    lg = math.log(g)
    for c in range(256):
        row[c] = lg
    node = heads[s]
    steps = 0
    while node >= 0:
        row[nbyte[node]] = math.log(g + (ncnt[node] - d) * inv)
        node = nnext[node]
        steps += 1
        if steps > nnext.shape[0]:
            raise InputError(MALFORMED)


@kernel
def order0_rows(tb, params, slots, P, L):
    """Start of the chain: ``P = p_0`` and ``L[0] = log p_0`` (order 0 over a uniform floor; one log for
    all unseen bytes), and the unchained rows ``L[i + 1]`` of the extra contexts (:func:`flat_row`)."""
    orders, discount, escape = params.orders, params.discount, params.escape
    keys, heads, tot, uniq, nbyte, ncnt, nnext, c0, meta = tb
    n0 = meta[META_N0]
    if n0 > 0:
        inv = 1.0 / (n0 + escape[0])
        g = (discount[0] * meta[META_U0] + escape[0]) * inv / 256.0
        lg = math.log(g)
        for c in range(256):
            n = c0[c]
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
    for i in range(orders.shape[0], slots.shape[0]):
        flat_row(tot, uniq, heads, nbyte, ncnt, nnext, slots[i], discount[i + 1], escape[i + 1], L[i + 1])


@kernel
def chain_step(heads, nbyte, ncnt, nnext, s, d, inv, g, lg, P, L, r):
    """One seen order of the chain: ``P <- g * P + max(n(c) - d, 0) * inv`` over context ``s``'s followers,
    ``L[r] = log P`` (``L[r - 1] + log g`` where no follower changes it)."""
    for c in range(256):
        P[c] *= g
        L[r, c] = L[r - 1, c] + lg
    node = heads[s]
    steps = 0
    while node >= 0:
        c = nbyte[node]
        P[c] += (ncnt[node] - d) * inv
        L[r, c] = math.log(P[c])
        node = nnext[node]
        steps += 1
        if steps > nnext.shape[0]:
            raise InputError(MALFORMED)


@kernel
def predict_orders(tb, params, slots, P, L, info):
    """Fill ``L[r]`` = log p_r (r = 0: order 0, r = i + 1: ``orders[i]``, then the extra contexts' flat
    rows); ``P`` ends as p_top and ``info`` as [highest seen row, its N, its u].

    Untouched entries of ``L[r]`` are ``L[r-1] + log gamma_r``; followers are re-logged from ``P``.
    """
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
            for c in range(256):
                L[r, c] = L[r - 1, c]
            continue
        n = tot[s]
        u = uniq[s]
        d = discount[r]
        inv = 1.0 / (n + escape[r])
        g = (d * u + escape[r]) * inv
        lg = math.log(g)
        chain_step(heads, nbyte, ncnt, nnext, s, d, inv, g, lg, P, L, r)
        hi = r
        hin = n
        hiu = u
    info[INFO_ROW] = hi
    info[INFO_N] = hin
    info[INFO_U] = hiu


@kernel
def order0_prob(c0, meta, d, b, byte):
    """``p_0(byte)``: order 0 (discount ``d``, escape ``b``) over the uniform floor (1/256 before anything
    was counted)."""
    p = 1.0 / 256.0
    n0 = meta[META_N0]
    if n0 > 0:
        inv = 1.0 / (n0 + b)
        p = (d * meta[META_U0] + b) * inv / 256.0
        n = c0[byte]
        if n > 0:
            p += (n - d) * inv
    return p


@kernel
def target_logp(tb, params, slots, byte):
    """``log p_top(byte)`` by the same recursion as :func:`predict_orders`, for one byte only (cheap)."""
    keys, heads, tot, uniq, nbyte, ncnt, nnext, c0, meta = tb
    orders, discount, escape = params.orders, params.discount, params.escape
    p = order0_prob(c0, meta, discount[0], escape[0], byte)
    for i in range(orders.shape[0]):
        r = i + 1
        s = slots[i]
        if s < 0 or tot[s] == 0:
            continue
        inv = 1.0 / (tot[s] + escape[r])
        p *= (discount[r] * uniq[s] + escape[r]) * inv
        node = heads[s]
        steps = 0
        while node >= 0:
            if nbyte[node] == byte:
                p += (ncnt[node] - discount[r]) * inv
                break
            node = nnext[node]
            steps += 1
            if steps > nnext.shape[0]:
                raise InputError(MALFORMED)
    return math.log(p)

"""Count tables: an open-addressing hash table of contexts, each with a linked list of follower counts.

One table holds every order of a model (layout of :class:`TableArrays`)::

    keys  int64[cap]    context key (0 = empty slot); open addressing, linear probing, cap a power of 2
    heads int32[cap]    first node of the slot's follower list (-1 = none)
    tot   int32[cap]    N(ctx): total count of the context
    uniq  int32[cap]    u(ctx): distinct bytes that followed it
    nbyte uint8[M]      node: the follower byte
    ncnt  int32[M]      node: its count n(ctx, byte)
    nnext int32[M]      node: next node of the same context (-1 = end)
    c0    int64[256]    order-0 counts
    meta  int64[4]      [nodes used, contexts used, N0, u0]  (slots META_NODES, META_CONTEXTS, META_N0, META_U0)

Counting byte ``x`` after a context adds 1 to ``n(ctx, x)`` and ``N(ctx)`` (a new follower also adds 1 to
``u(ctx)``); a context whose total exceeds ``max_total`` has every count halved, ``n <- ceil(n / 2)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...jit import kernel

META_NODES = 0
META_CONTEXTS = 1
META_N0 = 2
META_U0 = 3


class TableArrays(NamedTuple):
    """The arrays of one count table (see the module docstring); kernels take it as one argument."""

    keys: np.ndarray
    heads: np.ndarray
    tot: np.ndarray
    uniq: np.ndarray
    nbyte: np.ndarray
    ncnt: np.ndarray
    nnext: np.ndarray
    c0: np.ndarray
    meta: np.ndarray


class CountParams(NamedTuple):
    """How a model counts and smooths: context lengths, per-row discount and escape, update rules.

    ``discount`` / ``escape`` (float64[n_rows]) are the ``d_r`` / ``b_r`` of the chain (row 0 = order 0,
    row ``i + 1`` = ``orders[i]``, then one row per extra context); the first ``len(orders)`` contexts are
    chained orders, later ones (word contexts) are not.
    """

    orders: np.ndarray
    discount: np.ndarray
    escape: np.ndarray
    exclusion: bool
    max_total: int


@kernel
def slot_hash(key, mask):
    t = key ^ (key >> 29)
    t = (t % 1073741789) * 2654435761
    return (t >> 15) & mask


@kernel
def find_slot(keys, key):
    """Index of ``key`` in the open-addressing table, or of the empty slot where it would go."""
    mask = keys.shape[0] - 1
    i = slot_hash(key, mask)
    while keys[i] != 0 and keys[i] != key:
        i = (i + 1) & mask
    return i


@kernel
def lookup_slots(keys, ctxk, slots):
    """``slots[i]`` = table index of context ``ctxk[i]``, or -1 when it was never seen."""
    for i in range(ctxk.shape[0]):
        k = ctxk[i]
        s = -1
        if k != 0:
            j = find_slot(keys, k)
            if keys[j] == k:
                s = j
        slots[i] = s


@kernel
def has_room(tb, n_new):
    """Whether one more position (at most ``n_new`` new contexts and followers) fits without growing."""
    keys, nbyte, meta = tb.keys, tb.nbyte, tb.meta
    return (meta[META_CONTEXTS] + n_new) * 10 < keys.shape[0] * 7 and meta[META_NODES] + n_new + 1 < nbyte.shape[0]


@kernel
def halve_counts(heads, tot, ncnt, nnext, s):
    """``n <- ceil(n / 2)`` for every follower of slot ``s``; ``N`` becomes the new sum."""
    node = heads[s]
    t = 0
    while node >= 0:
        ncnt[node] = (ncnt[node] + 1) >> 1
        t += ncnt[node]
        node = nnext[node]
    tot[s] = t


@kernel
def update_counts(tb, params, ctxk, slots, byte):
    """Count ``byte`` after each context (inserting unseen contexts and followers).

    With ``params.exclusion`` (PPM update exclusion) only orders at and above the highest one that had
    already seen ``byte`` are updated, so lower orders count novel events (a Kneser-Ney-like continuation
    count). A context whose total exceeds ``params.max_total`` has its counts halved (recency).
    ``slots`` must come from :func:`lookup_slots` on the same table (it is refreshed for new contexts).
    Contexts past the chained orders (word contexts) are always updated.
    """
    keys, heads, tot, uniq, nbyte, ncnt, nnext, c0, meta = tb
    orders, exclusion, max_total = params.orders, params.exclusion, params.max_total
    nchain = orders.shape[0]
    no = ctxk.shape[0]
    lo = 0
    if exclusion:
        for i in range(nchain - 1, -1, -1):
            s = slots[i]
            if s < 0:
                continue
            node = heads[s]
            found = False
            while node >= 0:
                if nbyte[node] == byte:
                    found = True
                    break
                node = nnext[node]
            if found:
                lo = i + 1
                break
    if lo == 0:
        if c0[byte] == 0:
            meta[META_U0] += 1
        c0[byte] += 1
        meta[META_N0] += 1
    start = lo - 1 if lo > 0 else 0
    for i in range(start, no):
        k = ctxk[i]
        if k == 0:
            continue
        s = slots[i]
        if s < 0:
            s = find_slot(keys, k)
            if keys[s] != k:  # still unseen (another context of this position may share its key)
                keys[s] = k
                heads[s] = -1
                tot[s] = 0
                uniq[s] = 0
                meta[META_CONTEXTS] += 1
            slots[i] = s
        node = heads[s]
        while node >= 0:
            if nbyte[node] == byte:
                break
            node = nnext[node]
        if node >= 0:
            ncnt[node] += 1
        else:
            node = meta[META_NODES]
            meta[META_NODES] += 1
            nbyte[node] = byte
            ncnt[node] = 1
            nnext[node] = heads[s]
            heads[s] = node
            uniq[s] += 1
        tot[s] += 1
        if tot[s] > max_total:
            halve_counts(heads, tot, ncnt, nnext, s)


@kernel
def rehash(old, new):
    """Move every used slot of ``old`` into the larger, empty slot arrays of ``new`` (same node pool)."""
    keys, heads, tot, uniq = old.keys, old.heads, old.tot, old.uniq
    nkeys, nheads, ntot, nuniq = new.keys, new.heads, new.tot, new.uniq
    for i in range(keys.shape[0]):
        k = keys[i]
        if k != 0:
            j = find_slot(nkeys, k)
            nkeys[j] = k
            nheads[j] = heads[i]
            ntot[j] = tot[i]
            nuniq[j] = uniq[i]


@kernel
def compact_nodes(old, new):
    """Copy every context's follower list from ``old``'s node pool into ``new``'s, contiguously and in list
    order, and point the (shared) ``heads`` at the copies; returns the number of nodes copied. Traversal
    order (hence every sum) is unchanged; only memory locality improves."""
    keys, heads, nbyte, ncnt, nnext = old.keys, old.heads, old.nbyte, old.ncnt, old.nnext
    nb, nc, nn = new.nbyte, new.ncnt, new.nnext
    j = 0
    for s in range(keys.shape[0]):
        node = heads[s]
        if keys[s] == 0 or node < 0:
            continue
        heads[s] = j
        while node >= 0:
            nb[j] = nbyte[node]
            nc[j] = ncnt[node]
            node = nnext[node]
            nn[j] = j + 1 if node >= 0 else -1
            j += 1
    return j

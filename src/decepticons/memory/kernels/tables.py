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

Invariants (checked on load by :func:`check_tables`, kept by every kernel): fewer than 70% of the slots are
used, every used key is reachable by probing from its hash, every follower list ends (``-1``) and the lists
of all contexts together visit each node in ``[0, nodes used)`` exactly once, ``N`` is the sum of a list's
counts (each >= 1) and ``u`` its length (distinct bytes). Every loop that probes the table or walks a list
is also bounded by the array's length and raises :data:`MALFORMED` past it, so a table that breaks the
invariants anyway ends in an error, never in an endless compiled loop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...errors import InputError
from ...jit import kernel

META_NODES = 0
META_CONTEXTS = 1
META_N0 = 2
META_U0 = 3

#: the error of a bounded loop that ran past its table (only a table breaking the invariants gets there)
MALFORMED = "count tables are malformed (a follower list does not end, or the hash table has no empty slot)"
#: most contexts a table of ``cap`` slots holds: ``used * 10 < cap * 7`` (``has_room``, :func:`check_tables`)
LOAD_NUM, LOAD_DEN = 7, 10


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
    for _ in range(keys.shape[0]):
        if keys[i] == 0 or keys[i] == key:
            return i
        i = (i + 1) & mask
    raise InputError(MALFORMED)


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
    return ((meta[META_CONTEXTS] + n_new) * LOAD_DEN < keys.shape[0] * LOAD_NUM
            and meta[META_NODES] + n_new + 1 < nbyte.shape[0])


@kernel
def halve_counts(heads, tot, ncnt, nnext, s):
    """``n <- ceil(n / 2)`` for every follower of slot ``s``; ``N`` becomes the new sum."""
    node = heads[s]
    t = 0
    steps = 0
    while node >= 0:
        ncnt[node] = (ncnt[node] + 1) >> 1
        t += ncnt[node]
        node = nnext[node]
        steps += 1
        if steps > nnext.shape[0]:
            raise InputError(MALFORMED)
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
    limit = nnext.shape[0]
    lo = 0
    if exclusion:
        for i in range(nchain - 1, -1, -1):
            s = slots[i]
            if s < 0:
                continue
            node = heads[s]
            found = False
            steps = 0
            while node >= 0:
                if nbyte[node] == byte:
                    found = True
                    break
                node = nnext[node]
                steps += 1
                if steps > limit:
                    raise InputError(MALFORMED)
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
        steps = 0
        while node >= 0:
            if nbyte[node] == byte:
                break
            node = nnext[node]
            steps += 1
            if steps > limit:
                raise InputError(MALFORMED)
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
            if j >= nn.shape[0]:  # more nodes in the lists than the new pool holds: a cycle or shared nodes
                raise InputError(MALFORMED)
            nb[j] = nbyte[node]
            nc[j] = ncnt[node]
            node = nnext[node]
            nn[j] = j + 1 if node >= 0 else -1
            j += 1
    return j


#: what :func:`check_tables` found (0: every invariant of the module docstring holds)
TABLE_OK = 0
TABLE_FULL = 1
TABLE_UNREACHABLE = 2
TABLE_CYCLE = 3
TABLE_COUNTS = 4
TABLE_REPEATED = 5
TABLE_TOTALS = 6
TABLE_ORPHANS = 7


@kernel
def check_tables(tb, seen, last):
    """One pass over a table: every used key reachable by probing from its hash (scanning the slots once
    from an empty one, tracking the run of used slots before each), then every follower list walked once,
    marking nodes in ``seen`` (``uint8[nodes used]``, zeros) and follower bytes in ``last`` (``int64[256]``,
    zeros). O(slots + nodes) whatever the table holds: a node is never visited twice. Returns ``TABLE_OK``
    or the first ``TABLE_*`` code that fails."""
    keys, heads, tot, uniq, nbyte, ncnt, nnext, meta = tb.keys, tb.heads, tb.tot, tb.uniq, tb.nbyte, tb.ncnt, \
        tb.nnext, tb.meta
    cap = keys.shape[0]
    mask = cap - 1
    empty = -1
    for i in range(cap):
        if keys[i] == 0:
            empty = i
            break
    if empty < 0:
        return TABLE_FULL
    run = 0
    j = empty
    for _ in range(cap):
        j = (j + 1) & mask
        k = keys[j]
        if k == 0:
            run = 0
        else:
            if ((j - slot_hash(k, mask)) & mask) > run:
                return TABLE_UNREACHABLE
            run += 1
    visited = 0
    for s in range(cap):
        if keys[s] == 0:
            continue
        node = heads[s]
        t = 0
        u = 0
        while node >= 0:
            if seen[node] != 0:
                return TABLE_CYCLE
            seen[node] = 1
            if ncnt[node] < 1:
                return TABLE_COUNTS
            b = nbyte[node]
            if last[b] == s + 1:
                return TABLE_REPEATED
            last[b] = s + 1
            t += ncnt[node]
            u += 1
            node = nnext[node]
        visited += u
        if t != tot[s] or u != uniq[s]:
            return TABLE_TOTALS
    if visited != meta[META_NODES]:
        return TABLE_ORPHANS
    return TABLE_OK

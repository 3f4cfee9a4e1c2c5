"""Per-byte kernels of the count memories and the mixer, written once in plain Python over numpy arrays.

Every function here is the *reference* path when run by the interpreter, and the *fast* path when compiled
by numba (``KERNELS.fast``): :func:`get_kernels` rebinds the same code objects to a namespace whose globals
are the compiled versions, so both paths execute identical arithmetic in identical order (parity tests
check this). numba is optional; without it the reference path is used.

Count tables (one per model, all orders together; see :mod:`decepticons.memory._tables`)::

    keys  int64[cap]    context key (0 = empty slot); open addressing, linear probing, cap a power of 2
    heads int32[cap]    first node of the slot's follower list (-1 = none)
    tot   int32[cap]    N(ctx): total count of the context
    uniq  int32[cap]    u(ctx): distinct bytes that followed it
    nbyte uint8[M]      node: the follower byte
    ncnt  int32[M]      node: its count n(ctx, byte)
    nnext int32[M]      node: next node of the same context (-1 = end)
    c0    int64[256]    order-0 counts
    meta  int64[4]      [nodes used, keys used, N0, u0]

Context key of order k at position t: the bijective base-257 numeral of ``x[t-1], ..., x[t-k]`` (digits
byte+1) reduced mod a 54-bit prime: exact (collision free) for k <= 6, a 54-bit hash beyond.

Smoothing (interpolated absolute discounting, PPM-style escape), per order r with discount ``d_r`` and
escape offset ``b_r`` (0 <= d_r < 1, b_r >= 0)::

    p_r(c) = max(n(c) - d_r, 0) / (N + b_r)  +  gamma_r * p_{r-1}(c),   gamma_r = (d_r * u + b_r) / (N + b_r)

with ``p_{-1}`` uniform; an unseen context (N = 0) leaves ``p_r = p_{r-1}``. Each ``p_r`` sums to 1.
"""

from __future__ import annotations

import math
import types

import numpy as np

P_MOD = 18014398509481951  # 2**54 - 33, prime
NEG_LOG_256 = -math.log(256.0)


def _slot(key, mask):
    t = key ^ (key >> 29)
    t = (t % 1073741789) * 2654435761
    return (t >> 15) & mask


def find_slot(keys, key):
    """Index of ``key`` in the open-addressing table, or of the empty slot where it would go."""
    mask = keys.shape[0] - 1
    i = _slot(key, mask)
    while keys[i] != 0 and keys[i] != key:
        i = (i + 1) & mask
    return i


def ctx_keys(hist, t, orders, out):
    """Keys of the contexts ``hist[t-k:t]`` for every k in ``orders`` (ascending); 0 when t < k."""
    n = orders.shape[0]
    h = 0
    oi = 0
    maxo = orders[n - 1]
    for j in range(1, maxo + 1):
        if j > t:
            break
        h = (h * 257 + int(hist[t - j]) + 1) % P_MOD
        if j == orders[oi]:
            out[oi] = h if h != 0 else 1
            oi += 1
    for r in range(oi, n):
        out[r] = 0
    nw = out.shape[0] - n
    if nw > 0:
        # word contexts: the letters of the current word so far (case folded), then also the previous word
        h = 1000003
        j = t - 1
        while j >= 0 and t - 1 - j < 32 and _is_letter(int(hist[j])):
            h = (h * 257 + (int(hist[j]) | 32) + 1) % P_MOD
            j -= 1
        out[n] = h
        for wi in range(1, min(nw, 3)):  # ... plus the previous word, the word before it
            h = (h * 257 + 257) % P_MOD
            k = 0
            while j >= 0 and k < 8 and not _is_letter(int(hist[j])):
                j -= 1
                k += 1
            k = 0
            while j >= 0 and k < 32 and _is_letter(int(hist[j])):
                h = (h * 257 + (int(hist[j]) | 32) + 1) % P_MOD
                j -= 1
                k += 1
            out[n + wi] = h if h != 0 else 1
        if nw > 3:  # sparse context: the two bytes before the last one
            h = 2000003
            for j in range(2, 4):
                h = (h * 257 + (int(hist[t - j]) + 1 if t - j >= 0 else 0)) % P_MOD
            out[n + 3] = h
        if nw > 4:  # line context: column (capped) and the first two bytes of the current line
            j = t - 1
            while j >= 0 and t - 1 - j < 64 and hist[j] != 10:
                j -= 1
            h = (3000017 * 257 + (t - 1 - j)) % P_MOD
            for i in range(j + 1, min(j + 3, t)):
                h = (h * 257 + int(hist[i]) + 1) % P_MOD
            out[n + 4] = h


def _is_letter(c):
    return (65 <= c <= 90) or (97 <= c <= 122)


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


def order0_rows(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, nchain):
    """Start of the chain: ``P = p_0`` and ``L[0] = log p_0`` (order 0 over a uniform floor; one log for
    all unseen bytes), and the unchained rows ``L[i + 1]`` for slots ``i >= nchain`` (:func:`flat_row`)."""
    n0 = meta[2]
    if n0 > 0:
        inv = 1.0 / (n0 + beta[0])
        g = (disc[0] * meta[3] + beta[0]) * inv / 256.0
        lg = math.log(g)
        for c in range(256):
            n = c0[c]
            if n > 0:
                v = g + (n - disc[0]) * inv
                P[c] = v
                L[0, c] = math.log(v)
            else:
                P[c] = g
                L[0, c] = lg
    else:
        for c in range(256):
            P[c] = 1.0 / 256.0
            L[0, c] = NEG_LOG_256
    for i in range(nchain, slots.shape[0]):
        flat_row(tot, uniq, heads, nbyte, ncnt, nnext, slots[i], disc[i + 1], beta[i + 1], L[i + 1])


def chain_step(heads, nbyte, ncnt, nnext, s, d, inv, g, lg, P, L, r):
    """One seen order of the chain: ``P <- g * P + max(n(c) - d, 0) * inv`` over context ``s``'s followers,
    ``L[r] = log P`` (``L[r - 1] + log g`` where no follower changes it)."""
    for c in range(256):
        P[c] *= g
        L[r, c] = L[r - 1, c] + lg
    node = heads[s]
    while node >= 0:
        c = nbyte[node]
        P[c] += (ncnt[node] - d) * inv
        L[r, c] = math.log(P[c])
        node = nnext[node]


def predict_orders(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, info, nchain):
    """Fill ``L[r]`` = log p_r (r = 0: order 0, r = i+1: ``orders[i]``); ``P`` ends as p_top.

    ``info`` receives [highest order index with a seen context, its N, its u].
    Untouched entries of ``L[r]`` are ``L[r-1] + log gamma_r``; followers are re-logged from ``P``.
    Slots past ``nchain`` (word contexts) are not chained: their parent is the uniform distribution,
    ``p_w(c) = max(n(c) - d, 0) / (N + b) + gamma / 256`` (uniform when unseen).
    """
    order0_rows(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, nchain)
    hi = 0
    hin = meta[2]
    hiu = meta[3]
    for i in range(nchain):
        r = i + 1
        s = slots[i]
        if s < 0 or tot[s] == 0:
            for c in range(256):
                L[r, c] = L[r - 1, c]
            continue
        n = tot[s]
        u = uniq[s]
        d = disc[r]
        inv = 1.0 / (n + beta[r])
        g = (d * u + beta[r]) * inv
        lg = math.log(g)
        chain_step(heads, nbyte, ncnt, nnext, s, d, inv, g, lg, P, L, r)
        hi = r
        hin = n
        hiu = u
    info[0] = hi
    info[1] = hin
    info[2] = hiu


def _see_bucket(n, u):
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


def predict_orders_see(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, info, nchain,
                       see, see_e, see_idx):
    """:func:`predict_orders` with learned escapes (secondary escape estimation) on the chain::

        gamma_r = sigmoid(logit(gamma_formula) + see[r, bucket(N, u)])
        p_r(c)  = (1 - gamma_r) * max(n(c) - d_r, 0) / (N - d_r u) + gamma_r * p_{r-1}(c)

    ``see`` starts at 0 (the formula) and is trained by :func:`see_learn`; ``see_e[i]`` / ``see_idx[i]``
    keep the escape and table cell used by chain order i (cell -1: unseen context)."""
    order0_rows(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, nchain)
    hi = 0
    hin = meta[2]
    hiu = meta[3]
    for i in range(nchain):
        r = i + 1
        s = slots[i]
        if s < 0 or tot[s] == 0:
            see_idx[i] = -1
            for c in range(256):
                L[r, c] = L[r - 1, c]
            continue
        n = tot[s]
        u = uniq[s]
        d = disc[r]
        g0 = (d * u + beta[r]) / (n + beta[r])
        cell = _see_bucket(n, u)
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
    info[0] = hi
    info[1] = hin
    info[2] = hiu


def see_learn(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, see, see_e, see_idx, byte,
              rate):
    """One gradient step on ``log p_top(byte)`` (the chain's final estimate) w.r.t. every seen order's
    escape logit, back-propagated through the chain::

        d log p_top(x) / d see_r = (prod_{k > r seen} gamma_k) * (p_{r-1}(x) - q_r(x)) * gamma_r (1 - gamma_r)
                                   / p_top(x)
    """
    no = see_idx.shape[0]
    pv = np.empty(no + 1)
    qv = np.empty(no)
    n0 = meta[2]
    p = 1.0 / 256.0
    if n0 > 0:
        inv = 1.0 / (n0 + beta[0])
        p = (disc[0] * meta[3] + beta[0]) * inv / 256.0
        n = c0[byte]
        if n > 0:
            p += (n - disc[0]) * inv
    pv[0] = p
    for i in range(no):
        cell = see_idx[i]
        qv[i] = 0.0
        if cell >= 0:
            r = i + 1
            s = slots[i]
            d = disc[r]
            node = heads[s]
            while node >= 0:
                if nbyte[node] == byte:
                    qv[i] = (ncnt[node] - d) / (tot[s] - d * uniq[s])
                    break
                node = nnext[node]
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
    while node >= 0:
        row[nbyte[node]] = math.log(g + (ncnt[node] - d) * inv)
        node = nnext[node]


def target_logp(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, byte, nchain):
    """``log p_top(byte)`` by the same recursion as :func:`predict_orders`, for one byte only (cheap)."""
    n0 = meta[2]
    p = 1.0 / 256.0
    if n0 > 0:
        inv = 1.0 / (n0 + beta[0])
        p = (disc[0] * meta[3] + beta[0]) * inv / 256.0
        n = c0[byte]
        if n > 0:
            p += (n - disc[0]) * inv
    for i in range(nchain):
        r = i + 1
        s = slots[i]
        if s < 0 or tot[s] == 0:
            continue
        inv = 1.0 / (tot[s] + beta[r])
        p *= (disc[r] * uniq[s] + beta[r]) * inv
        node = heads[s]
        while node >= 0:
            if nbyte[node] == byte:
                p += (ncnt[node] - disc[r]) * inv
                break
            node = nnext[node]
    return math.log(p)


def _halve(s, tot, heads, ncnt, nnext):
    node = heads[s]
    t = 0
    while node >= 0:
        ncnt[node] = (ncnt[node] + 1) >> 1
        t += ncnt[node]
        node = nnext[node]
    tot[s] = t


def update_counts(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, ctxk, slots, byte, exclusion,
                  max_total, nchain):
    """Count ``byte`` after each context (inserting unseen contexts and followers).

    With ``exclusion`` (PPM update exclusion) only orders at and above the highest one that had already
    seen ``byte`` are updated, so lower orders count novel events (a Kneser-Ney-like continuation count).
    A context whose total exceeds ``max_total`` has its counts halved (recency).
    ``slots`` must come from :func:`lookup_slots` on the same table (it is refreshed for new contexts).
    Contexts past ``nchain`` (word contexts) are always updated.
    """
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
            meta[3] += 1
        c0[byte] += 1
        meta[2] += 1
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
                meta[1] += 1
            slots[i] = s
        node = heads[s]
        while node >= 0:
            if nbyte[node] == byte:
                break
            node = nnext[node]
        if node >= 0:
            ncnt[node] += 1
        else:
            node = meta[0]
            meta[0] += 1
            nbyte[node] = byte
            ncnt[node] = 1
            nnext[node] = heads[s]
            heads[s] = node
            uniq[s] += 1
        tot[s] += 1
        if tot[s] > max_total:
            _halve(s, tot, heads, ncnt, nnext)


def rehash(keys, heads, tot, uniq, nkeys, nheads, ntot, nuniq):
    """Move every used slot into a larger (empty) table."""
    for i in range(keys.shape[0]):
        k = keys[i]
        if k != 0:
            j = find_slot(nkeys, k)
            nkeys[j] = k
            nheads[j] = heads[i]
            ntot[j] = tot[i]
            nuniq[j] = uniq[i]


def compact_nodes(keys, heads, nbyte, ncnt, nnext, nb, nc, nn):
    """Copy every context's follower list into ``nb, nc, nn`` contiguously, in list order, and point
    ``heads`` at the copies; returns the number of nodes copied. Traversal order (hence every sum) is
    unchanged; only memory locality improves (one context's followers share cache lines)."""
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


def has_room(keys, meta, nbyte, no):
    """Whether one more position (at most ``no`` new contexts and followers) fits without growing."""
    return (meta[1] + no) * 10 < keys.shape[0] * 7 and meta[0] + no + 1 < nbyte.shape[0]


# ---------------------------------------------------------------------------------------------- n-gram runs
def ngram_run(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, start, end, orders, disc, beta,
              learn, exclusion, max_total, out, out_off, ctxk, slots, P, L, info):
    """Rows ``out[t - out_off] = log p_top(. | hist[:t])`` for t in [start, end), learning after each row
    when ``learn``. Returns the first position not processed (< end when the tables need to grow)."""
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(keys, meta, nbyte, no):
            return t
        ctx_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        predict_orders(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, info, no)
        row = t - out_off
        for c in range(256):
            out[row, c] = L[no, c]
        if learn:
            update_counts(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, ctxk, slots, int(hist[t]),
                          exclusion, max_total, no)
    return end


def ngram_fit_run(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, start, end, orders, disc, beta,
                  exclusion, max_total, tgt, tgt_off, ctxk, slots):
    """Learn from ``hist[start:end]``, writing the prequential ``log p(x_t)`` into ``tgt[t - tgt_off]``."""
    no = orders.shape[0]
    for t in range(start, end):
        if not has_room(keys, meta, nbyte, no):
            return t
        ctx_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        b = int(hist[t])
        tgt[t - tgt_off] = target_logp(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, b, no)
        update_counts(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, ctxk, slots, b, exclusion,
                      max_total, no)
    return end


# ---------------------------------------------------------------------------------------------- mixer
def mix_predict(X, W1, s1, W2, s2, z, p):
    """Geometric (logistic) mixing of the input log-distributions ``X[i]`` (float64[n_in, 256])::

        z(c) = sum_i (W1[s1, i] + W2[s2, i]) * X[i, c],    p = softmax(z)

    Returns log of the softmax normaliser, so ``log p(c) = z(c) - returned``.
    """
    n_in = X.shape[0]
    for c in range(256):
        z[c] = 0.0
    for i in range(n_in):
        w = W1[s1, i] + W2[s2, i]
        for c in range(256):
            z[c] += w * X[i, c]
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


def mix_update(X, W1, s1, W2, s2, p, byte, lr1, lr2):
    """Gradient step on ``-log p(byte)``: ``dW[i] = lr * (X[i, byte] - sum_c p(c) X[i, c])`` for both sets.

    When a weight matrix has one column more than there are inputs, that column counts the set's updates
    and the set's rate starts 4x higher, decaying as ``lr * (1 + 4 * 1024 / (1024 + n))`` (young sets
    learn fast, trained ones settle).
    """
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


def select1(info, n_orders, mstate, use_match):
    """Weight set from the highest seen order and the confidence of its context (N bucket, u == 1), times
    the match state (none / shorter than 16 / longer) when ``use_match``."""
    n = info[1]
    if n <= 1:
        b = 0
    elif n <= 3:
        b = 1
    elif n <= 15:
        b = 2
    else:
        b = 3
    det = 1 if info[2] == 1 else 0
    s = (info[0] * 4 + b) * 2 + det
    if use_match:
        ml = mstate[1]
        s = s * 3 + (0 if ml <= 0 else (1 if ml < 16 else 2))
    return s


def match_update(hist, t, mtab, mstate, min_len):
    """Match model bookkeeping after ``hist[t]`` is known: extend or drop the current match, and
    (re)index the context ending at t+1. ``mstate`` = [match pointer, match length]."""
    ptr = mstate[0]
    ln = mstate[1]
    if ln > 0:
        if int(hist[ptr]) == int(hist[t]):
            ln += 1
            ptr += 1
        else:
            ln = 0
    if t + 1 >= min_len:
        h = 0
        for j in range(min_len):
            h = (h * 257 + int(hist[t - j]) + 1) % P_MOD
        i = (h ^ (h >> 27)) & (mtab.shape[0] - 1)
        if ln == 0:
            cand = mtab[i]
            if cand > 0:
                ptr = cand
                ln = 1
                # verify and measure the real match length backwards (bounded)
                k = 0
                while k < 32 and cand - 1 - k >= 0 and t - k >= 0 and hist[cand - 1 - k] == hist[t - k]:
                    k += 1
                ln = k
                if ln < min_len:
                    ln = 0
        mtab[i] = t + 1
    mstate[0] = ptr
    mstate[1] = ln


def match_row(hist, mstate, mconf, row):
    """Input row of the match model: log of ``q`` on the predicted byte and ``(1-q)/255`` elsewhere, with
    ``q = mconf[min(len, 31)]`` (adaptive hit rate per length); uniform when there is no match."""
    ln = mstate[1]
    if ln <= 0:
        for c in range(256):
            row[c] = NEG_LOG_256
        return -1
    b = int(hist[mstate[0]])
    q = mconf[min(ln, 31)]
    lo = math.log((1.0 - q) / 255.0)
    for c in range(256):
        row[c] = lo
    row[b] = math.log(q)
    return b


def match_learn(mstate, mconf, predicted, byte):
    if predicted < 0:
        return
    i = min(mstate[1], 31)
    hit = 1.0 if predicted == byte else 0.0
    q = mconf[i] + (hit - mconf[i]) * 0.02
    if q < 0.01:
        q = 0.01
    if q > 0.999:
        q = 0.999
    mconf[i] = q


def apm_predict(p, z, lz, A1, A2, sel, aux, info, pf, lrow, on):
    """Adaptive probability map on the most likely byte b* (secondary estimation).

    With ``q = p(b*)`` and ``s = ln(q / (1 - q))`` clamped to [-8, 8] and cut into 32 cells, each map is a
    piecewise-linear function of ``s`` (33 nodes, initialised to the identity ``1 / (1 + e^-s)``) selected
    by a small context: ``A1`` by (highest seen order, whether the match model agrees with b*), ``A2`` by
    the previous byte (``sel[6]``). ``q' = q / 2 + A1(s) / 4 + A2(s) / 4``; the other bytes share ``1 - q'`` in their
    old proportions. Fills the final ``pf`` (probabilities) and ``lrow`` (log-probabilities)."""
    best = 0
    for c in range(1, 256):
        if p[c] > p[best]:
            best = c
    rest = 0.0
    for c in range(256):
        if c != best:
            rest += p[c]
    q = p[best]
    if not on or not rest > 0.0 or not q == q:
        aux[0] = -1.0
        for c in range(256):
            pf[c] = p[c]
            lrow[c] = z[c] - lz
        return
    qc = min(max(q, 1e-6), 1.0 - 1e-6)
    st = math.log(qc / (1.0 - qc))
    st = min(max(st, -7.999), 7.999)
    pos = (st + 8.0) * 2.0
    j = int(pos)
    w = pos - j
    a1c = info[0] * 2 + (1 if sel[2] == best else 0)
    a2c = sel[6]
    a1 = A1[a1c, j] * (1.0 - w) + A1[a1c, j + 1] * w
    a2 = A2[a2c, j] * (1.0 - w) + A2[a2c, j + 1] * w
    qf = 0.5 * q + 0.25 * a1 + 0.25 * a2
    qf = min(max(qf, 1e-7), 1.0 - 1e-7)
    scale = (1.0 - qf) / rest
    ls = math.log(scale)
    for c in range(256):
        pf[c] = p[c] * scale
        lrow[c] = z[c] - lz + ls
    pf[best] = qf
    lrow[best] = math.log(qf)
    sel[3] = best
    sel[4] = j
    sel[5] = a1c
    aux[0] = w


def apm_learn(A1, A2, sel, aux, byte, rate):
    """Move the two nodes around ``s`` of both maps towards ``y = [byte == b*]`` (by their weights)."""
    w = aux[0]
    if w < 0.0:
        return
    y = 1.0 if byte == sel[3] else 0.0
    j = sel[4]
    a1c = sel[5]
    a2c = sel[6]
    A1[a1c, j] += rate * (1.0 - w) * (y - A1[a1c, j])
    A1[a1c, j + 1] += rate * w * (y - A1[a1c, j + 1])
    A2[a2c, j] += rate * (1.0 - w) * (y - A2[a2c, j])
    A2[a2c, j + 1] += rate * w * (y - A2[a2c, j + 1])


def mixer_predict_step(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, keys, hist, t, orders, disc, beta,
                       W1, W2, ext, ext_row, mstate, mconf, ctxk, slots, P, X, z, p, info, sel, A1, A2, aux,
                       pf, lrow, apm_on, indep, see, see_e, see_idx, doc):
    """Predict position t: inputs are the n-gram orders' log-distributions (``X[0..no]``), the word
    contexts (``X[no+1..no+nw]``), the document memory's chain (order 0 and ``nd`` orders, counted from
    the current document only: ``X[no+nw+1..no+nw+nd+1]``), the match model and the external rows
    ``ext[ext_row, j]`` after it; ``p`` = mixed distribution, ``z`` = its logits; then the APM stage gives
    the final ``pf`` / ``lrow``. ``doc`` = (the document tables' 9 arrays, indices of its orders among
    ``ctxk``, its ctxk, slots, P, info, discounts, escapes); no document rows when it has no orders."""
    no = orders.shape[0]
    nw = ctxk.shape[0] - no
    ctx_keys(hist, t, orders, ctxk)
    lookup_slots(keys, ctxk, slots)
    predict_orders_see(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, X, info, no, see,
                       see_e, see_idx)
    if indep % 2 == 1:
        # orders below the top as independent estimates instead of the chain's intermediate rows
        for i in range(no - 1):
            flat_row(tot, uniq, heads, nbyte, ncnt, nnext, slots[i], disc[i + 1], beta[i + 1], X[i + 1])
    mrow = no + nw + 1
    dsel = doc[9]
    nd = dsel.shape[0]
    if nd > 0:
        dctxk = doc[10]
        dslots = doc[11]
        for i in range(nd):
            dctxk[i] = ctxk[dsel[i]]
        lookup_slots(doc[0], dctxk, dslots)
        predict_orders(doc[1], doc[2], doc[3], doc[4], doc[5], doc[6], doc[7], doc[8], dslots, doc[14], doc[15],
                       doc[12], X[mrow:mrow + nd + 1], doc[13], nd)
        mrow += nd + 1
    sel[2] = match_row(hist, mstate, mconf, X[mrow])
    for j in range(ext.shape[1]):
        for c in range(256):
            # an expert's log 0 would make 0 * -inf = NaN in the mix: floor it at a finite value
            X[mrow + 1 + j, c] = max(ext[ext_row, j, c], -700.0)
    sel[0] = select1(info, no, mstate, (indep // 2) % 2 == 1)
    if (indep // 4) % 2 == 1:  # times the confidence of the word context (unseen / N < 4 / N >= 4)
        wb = 0
        if nw > 0 and slots[no] >= 0:
            nwc = tot[slots[no]]
            wb = 0 if nwc == 0 else (1 if nwc < 4 else 2)
        sel[0] = sel[0] * 3 + wb
    if (indep // 8) % 2 == 1 and nd > 0:  # times the longest document-memory order seen
        sel[0] = sel[0] * (nd + 1) + doc[13][0]
    sel[6] = int(hist[t - 1]) if t > 0 else 256
    sel[1] = sel[6]  # second weight set: the previous byte
    lz = mix_predict(X, W1, sel[0], W2, sel[1], z, p)
    apm_predict(p, z, lz, A1, A2, sel, aux, info, pf, lrow, apm_on)


def mixer_learn_step(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, t, exclusion, max_total,
                     W1, W2, lr, mtab, mstate, mconf, min_len, ctxk, slots, X, p, sel, nchain, A1, A2, aux,
                     disc, beta, see, see_e, see_idx, doc):
    """Learn from ``hist[t]`` after :func:`mixer_predict_step` at t: mixer weights (on the mixer's own
    ``p``), APM, match model, counts."""
    b = int(hist[t])
    mix_update(X, W1, sel[0], W2, sel[1], p, b, lr[0], lr[1])
    apm_learn(A1, A2, sel, aux, b, lr[2])
    if lr[4] > 0.0:  # before the counts change: the same statistics the prediction used
        see_learn(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, see, see_e, see_idx, b, lr[4])
    match_learn(mstate, mconf, sel[2], b)
    update_counts(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, ctxk, slots, b, exclusion, max_total,
                  nchain)
    nd = doc[9].shape[0]
    if nd > 0:
        update_counts(doc[0], doc[1], doc[2], doc[3], doc[4], doc[5], doc[6], doc[7], doc[8], doc[10], doc[11], b,
                      exclusion, 1 << 30, nd)
    if min_len > 0:
        match_update(hist, t, mtab, mstate, min_len)


def mixer_run(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, start, end, orders, disc, beta,
              learn, exclusion, max_total, W1, W2, lr, ext, ext_off, mtab, mstate, mconf, min_len,
              out, out_off, mode, ctxk, slots, P, X, z, p, info, sel, A1, A2, aux, pf, lrow, see, see_e, see_idx,
              doc):
    """The mixer over positions [start, end) (predict, then learn when ``learn``). ``mode`` 0: log rows
    into ``out[t - out_off]``; 1: target log-prob into ``out[t - out_off, 0]``; 2: quantised coding
    frequencies into ``out[t - out_off]``. Returns the first position not processed (tables full)."""
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(keys, meta, nbyte, ctxk.shape[0]):
            return t
        if learn and not has_room(doc[0], doc[8], doc[4], doc[10].shape[0]):
            return t
        mixer_predict_step(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, keys, hist, t, orders, disc, beta,
                           W1, W2, ext, t - ext_off, mstate, mconf, ctxk, slots, P, X, z, p, info, sel, A1, A2,
                           aux, pf, lrow, lr[2] > 0.0, int(lr[3]), see, see_e, see_idx, doc)
        row = t - out_off
        if mode == 0:
            for c in range(256):
                out[row, c] = lrow[c]
        elif mode == 1:
            out[row, 0] = lrow[int(hist[t])]
        else:
            quantize_probs(pf, out[row])
        if learn:
            mixer_learn_step(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, t, exclusion,
                             max_total, W1, W2, lr, mtab, mstate, mconf, min_len, ctxk, slots, X, p, sel, no,
                             A1, A2, aux, disc, beta, see, see_e, see_idx, doc)
    return end


def records_run(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, start, end, orders, disc, beta,
                learn, exclusion, max_total, rec_p, rec_int, rec_top, off, ctxk, slots, P, L, info):
    """Per-position records for t in [start, end) (row ``t - off``): ``rec_p[row, r]`` = p_r(x_t) for every
    order r, ``rec_int[row]`` = [highest seen order index, its N, its u, argmax of p_top],
    ``rec_top[row]`` = max p_top (top-1 mass). Learns after each position when ``learn``."""
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(keys, meta, nbyte, no):
            return t
        ctx_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        predict_orders(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, info, no)
        row = t - off
        b = int(hist[t])
        for r in range(no + 1):
            rec_p[row, r] = math.exp(L[r, b])
        best = 0
        for c in range(1, 256):
            if P[c] > P[best]:
                best = c
        rec_int[row, 0] = info[0]
        rec_int[row, 1] = info[1]
        rec_int[row, 2] = info[2]
        rec_int[row, 3] = best
        rec_top[row] = P[best]
        if learn:
            update_counts(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, ctxk, slots, b, exclusion,
                          max_total, no)
    return end


def backoff_run(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, start, end, orders, disc, beta,
                learn, exclusion, max_total, lam, out, out_off, ctxk, slots, P, L, info):
    """Fitted backoff mixture: ``p(c) = sum_r lam[s, r] * p_r(c)`` with ``s`` the highest order whose
    context was seen at prefix time (rows of ``lam`` sum to 1 and are 0 above ``s``). Log rows into
    ``out[t - out_off]``; learns after each position when ``learn``."""
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(keys, meta, nbyte, no):
            return t
        ctx_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        predict_orders(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, slots, disc, beta, P, L, info, no)
        s = info[0]
        row = t - out_off
        for c in range(256):
            v = 0.0
            for r in range(s + 1):
                v += lam[s, r] * math.exp(L[r, c])
            out[row, c] = math.log(v)
        if learn:
            update_counts(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, ctxk, slots, int(hist[t]),
                          exclusion, max_total, no)
    return end


def stream_step(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, keys, hist, tpos, orders, disc, beta,
                W1, W2, ext, mstate, mconf, ctxk, slots, P, X, z, p, info, sel, A1, A2, aux, pf, lrow, lr,
                exclusion, max_total, mtab, min_len, see, see_e, see_idx, doc, freqs, online, byte):
    """Stream path, one compiled call per byte. When ``byte >= 0`` it is the byte at ``t = tpos[0]``
    (predicted by the previous call): record it, learn from it (when ``online``) and advance t. Then
    predict the new position (:func:`mixer_predict_step`) and quantise the result into ``freqs``.
    Returns 1, having done nothing, when a table must grow before ``byte`` can be learned; else 0."""
    no = orders.shape[0]
    if byte >= 0:
        t = tpos[0]
        if online:
            if not has_room(keys, meta, nbyte, ctxk.shape[0]) or not has_room(doc[0], doc[8], doc[4],
                                                                              doc[10].shape[0]):
                return 1
        hist[t] = byte
        if online:
            mixer_learn_step(keys, tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, hist, t, exclusion,
                             max_total, W1, W2, lr, mtab, mstate, mconf, min_len, ctxk, slots, X, p, sel, no,
                             A1, A2, aux, disc, beta, see, see_e, see_idx, doc)
        tpos[0] = t + 1
    mixer_predict_step(tot, uniq, heads, nbyte, ncnt, nnext, c0, meta, keys, hist, tpos[0], orders, disc, beta,
                       W1, W2, ext, 0, mstate, mconf, ctxk, slots, P, X, z, p, info, sel, A1, A2, aux, pf, lrow,
                       lr[2] > 0.0, int(lr[3]), see, see_e, see_idx, doc)
    quantize_probs(pf, freqs)
    return 0


QUANT_BITS = 24


def quantize_probs(p, out):
    """Integer frequencies (stored as float64) from probabilities ``p`` (float64[n], sum > 0)::

        f_i = floor(p_i / sum(p) * (2**24 - n)) + 1,   remainder added to the first argmax

    so every f_i >= 1 and sum f = 2**24 exactly; ``out[0] = -1`` flags an invalid input (negative, NaN,
    infinite or all-zero). Only IEEE float64 mul/div/floor and exact integer sums
    are involved: a pure function of the input bits.
    """
    n = p.shape[0]
    s = 0.0
    for i in range(n):
        if not p[i] >= 0.0:  # negative or NaN
            out[0] = -1.0
            return
        s += p[i]
    if not (s > 0.0 and math.isfinite(s)):
        out[0] = -1.0
        return
    scale = float((1 << QUANT_BITS) - n)
    tot = 0
    best = 0
    for i in range(n):
        f = int(math.floor(p[i] / s * scale)) + 1
        out[i] = f
        tot += f
        if p[i] > p[best]:
            best = i
    out[best] += (1 << QUANT_BITS) - tot


_ORDER = ["_slot", "find_slot", "flat_row", "order0_rows", "chain_step", "_see_bucket", "predict_orders_see",
          "see_learn", "_is_letter", "ctx_keys", "lookup_slots", "predict_orders", "target_logp", "_halve",
          "update_counts", "rehash", "compact_nodes", "has_room", "ngram_run", "ngram_fit_run", "mix_predict",
          "mix_update", "select1", "match_update", "match_row", "match_learn", "quantize_probs", "apm_predict",
          "apm_learn", "mixer_predict_step", "mixer_learn_step", "mixer_run", "records_run", "backoff_run",
          "stream_step"]


class _Kernels:
    """A namespace of kernel functions (attribute access by name)."""

    def __init__(self, funcs: dict, fast: bool) -> None:
        self.__dict__.update(funcs)
        self.fast = fast


REFERENCE = _Kernels({name: globals()[name] for name in _ORDER}, fast=False)
_FAST: _Kernels | None = None


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def get_kernels(use_numba: bool = True) -> _Kernels:
    """The compiled kernels when numba is importable and wanted, else the reference ones."""
    global _FAST
    if not use_numba or not numba_available():
        return REFERENCE
    if _FAST is None:
        from numba import njit

        g = {k: v for k, v in globals().items() if k not in _ORDER}
        funcs = {}
        for name in _ORDER:
            f = globals()[name]
            clone = types.FunctionType(f.__code__, g, name, f.__defaults__, f.__closure__)
            clone.__module__ = f.__module__
            clone.__qualname__ = f.__qualname__
            jf = njit(cache=True)(clone)
            g[name] = jf
            funcs[name] = jf
        _FAST = _Kernels(funcs, fast=True)
    return _FAST


_ = np  # numpy arrays are the kernels' only data type

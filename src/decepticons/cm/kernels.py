"""Per-position loops of the bit-level model: the path-only fast path, the full 255-node tree, learning.

At position t: :func:`~.contexts.cm_begin` (contexts, high-nibble slots), then either

* path (``MODE_TARGET``): the 8 nodes on the path of the known byte ``x_t``; ``P(x_t) = prod_d q_d`` with
  ``q_d = PF[n_d]`` or ``1 - PF[n_d]``, multiplied from the root down; output ``log P(x_t)``;
* full (``MODE_ROWS``, ``MODE_FREQS``): the 15 high-nibble nodes, then for each high nibble h the low-nibble
  slots and 15 nodes; ``PP[1] = 1``, ``PP[2n] = PP[n] (1 - PF[n])``, ``PP[2n + 1] = PP[n] PF[n]``, so
  ``PP[256 + b]`` is the same product, in the same order, as the path's; output ``log PP[256:]`` (rows) or
  their coding frequencies (:mod:`decepticons.coding.frequencies`).

Then, when learning, :func:`cm_learn_byte` updates the path's 8 nodes (:mod:`.learn`). Node predictions read
only what was learned before position t, so both modes give bit-identical probabilities.
"""

from __future__ import annotations

import math

from ..coding.frequencies import quantize_probs
from ..jit import kernel
from .contexts import cm_begin, cm_find_slot
from .learn import cm_learn_node
from .nodes import cm_predict_node
from .state import MATCH_BUCKETS, RS_MLEN, RS_MPTR, RS_NSEEN

MODE_TARGET = 1
MODE_ROWS = 0
MODE_FREQS = 2


@kernel
def cm_lo_index(node, depth):
    """Index of a low-nibble node (depth 4..7) in its slot: a leading 1, then the low bits so far."""
    dl = depth - 4
    return (1 << dl) | (node & ((1 << dl) - 1))


@kernel
def cm_match_expect(rs, hist, t):
    """The match model's expected byte at ``t`` (-1: no match) and its length bucket."""
    mlen = rs[RS_MLEN]
    if mlen <= 0:
        return -1, 0
    return int(hist[rs[RS_MPTR]]), min(mlen, MATCH_BUCKETS - 1)


@kernel
def cm_position(P, S, Z, hist, t, byte, full):
    """Predict position ``t``: the path of ``byte`` (returns ``P(byte)``) or, when ``full``, the whole tree
    into ``Z.PP`` (returns 0)."""
    kinds = P.kinds
    table_bits = P.table_bits
    nm = P.nm
    confidence = P.confidence
    apm = P.apm_rate > 0.0
    T = S.T
    CM = S.CM
    W = S.W
    L2 = S.L2
    MM = S.MM
    A1 = S.A1
    A2 = S.A2
    ch = Z.ch
    sidx = Z.sidx
    sbase = Z.sbase
    stag = Z.stag
    X = Z.X
    CB = Z.CB
    SEL = Z.SEL
    DOT = Z.DOT
    PM = Z.PM
    MX = Z.MX
    AJ = Z.AJ
    AW = Z.AW
    PF = Z.PF
    PP = Z.PP
    rs = Z.rs
    lut = Z.lut
    nc = len(kinds)
    cm_begin(kinds, table_bits, P.match_min, T, ch, sidx, sbase, stag, rs, Z.mtab, hist, t)
    c1 = 0
    if t > 0:
        c1 = int(hist[t - 1])
    eb, mi = cm_match_expect(rs, hist, t)
    nseen = rs[RS_NSEEN]
    if not full:
        prob = 1.0
        for d in range(8):
            node = (256 + byte) >> (8 - d)
            if d < 4:
                nib = 0
                j = node
            else:
                nib = 1 + (byte >> 4)
                j = cm_lo_index(node, d)
                if d == 4:
                    for c in range(nc):
                        cm_find_slot(T, c, ch[c], nib, table_bits, sidx, sbase, stag)
            q = cm_predict_node(node, d, j, nib, c1, eb, mi, nseen, T, CM, W, L2, MM, A1, A2, sidx, X, CB, SEL, DOT,
                             PM, MX, AJ, AW, PF, lut, nc, nm, confidence, apm)
            if (byte >> (7 - d)) & 1:
                prob = prob * q
            else:
                prob = prob * (1.0 - q)
        return prob
    for node in range(1, 16):
        d = 0 if node < 2 else (1 if node < 4 else (2 if node < 8 else 3))
        cm_predict_node(node, d, node, 0, c1, eb, mi, nseen, T, CM, W, L2, MM, A1, A2, sidx, X, CB, SEL, DOT, PM,
                     MX, AJ, AW, PF, lut, nc, nm, confidence, apm)
    for h in range(16):
        nib = 1 + h
        for c in range(nc):
            cm_find_slot(T, c, ch[c], nib, table_bits, sidx, sbase, stag)
        for j in range(1, 16):
            dl = 0 if j < 2 else (1 if j < 4 else (2 if j < 8 else 3))
            node = ((16 + h) << dl) | (j - (1 << dl))
            cm_predict_node(node, 4 + dl, j, nib, c1, eb, mi, nseen, T, CM, W, L2, MM, A1, A2, sidx, X, CB, SEL,
                         DOT, PM, MX, AJ, AW, PF, lut, nc, nm, confidence, apm)
    PP[1] = 1.0
    for node in range(1, 256):
        q = PF[node]
        PP[2 * node] = PP[node] * (1.0 - q)
        PP[2 * node + 1] = PP[node] * q
    return 0.0


@kernel
def cm_learn_byte(P, S, Z, hist, t, byte):
    """Learn ``byte`` at position ``t`` from the prediction just made (its 8 path nodes)."""
    T = S.T
    CM = S.CM
    W = S.W
    L2 = S.L2
    MM = S.MM
    A1 = S.A1
    A2 = S.A2
    sidx = Z.sidx
    sbase = Z.sbase
    stag = Z.stag
    X = Z.X
    CB = Z.CB
    SEL = Z.SEL
    DOT = Z.DOT
    PM = Z.PM
    MX = Z.MX
    AJ = Z.AJ
    AW = Z.AW
    nc = len(P.kinds)
    nm = P.nm
    limit = P.limit
    lr = P.lr
    lr2 = P.lr2
    apm_rate = P.apm_rate
    confidence = P.confidence
    c1 = 0
    if t > 0:
        c1 = int(hist[t - 1])
    eb, mi = cm_match_expect(Z.rs, hist, t)
    for d in range(8):
        node = (256 + byte) >> (8 - d)
        y = (byte >> (7 - d)) & 1
        if d < 4:
            nib = 0
            j = node
        else:
            nib = 1 + (byte >> 4)
            j = cm_lo_index(node, d)
        cm_learn_node(node, j, nib, y, mi, T, CM, W, L2, MM, A1, A2, sidx, sbase, stag, X, CB, SEL, DOT, PM, MX, AJ,
                   AW, c1, nc, nm, limit, lr, lr2, apm_rate, confidence)


@kernel
def cm_run(P, S, Z, x, start, end, learn, out, mode):
    """Positions ``start..end-1`` of ``x``: ``out[t - start]`` gets ``log P(x_t)`` (``MODE_TARGET``, column
    0), the row ``log P(. | x_<t)`` (``MODE_ROWS``) or its coding frequencies (``MODE_FREQS``)."""
    PP = Z.PP
    for t in range(start, end):
        b = int(x[t])
        r = t - start
        if mode == MODE_TARGET:
            out[r, 0] = math.log(cm_position(P, S, Z, x, t, b, False))
        else:
            cm_position(P, S, Z, x, t, b, True)
            if mode == MODE_ROWS:
                row = out[r]
                for i in range(256):
                    row[i] = math.log(PP[256 + i])
            else:
                quantize_probs(PP[256:], out[r])
        if learn:
            cm_learn_byte(P, S, Z, x, t, b)


@kernel
def cm_stream_step(P, S, Z, hist, tpos, lrow, freqs, learn, pending):
    """One stream step: learn ``pending`` (when >= 0) at position ``tpos[0]`` and move past it, then
    predict the next position in full (``lrow``: log-probabilities, ``freqs``: coding frequencies)."""
    PP = Z.PP
    t = tpos[0]
    if pending >= 0:
        hist[t] = pending
        if learn:
            cm_learn_byte(P, S, Z, hist, t, pending)
        t += 1
        tpos[0] = t
    cm_position(P, S, Z, hist, t, 0, True)
    for i in range(256):
        lrow[i] = math.log(PP[256 + i])
    quantize_probs(PP[256:], freqs)

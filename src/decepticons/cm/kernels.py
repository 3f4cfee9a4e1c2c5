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
from .contexts import cm_begin
from .learn import cm_learn_path
from .nodes import cm_node_row, cm_predict_nodes
from .state import MATCH_BUCKETS, RS_MLEN, RS_MPTR, RS_NSEEN

MODE_TARGET = 1
MODE_ROWS = 0
MODE_FREQS = 2


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
    cm_begin(P.kinds, P.table_bits, P.match_min, S.T, Z.ch, Z.sidx, Z.sbase, Z.stag, Z.rs, Z.mtab, Z.run, Z.ind,
             hist, t)
    return cm_nodes_at(P, S, Z, hist, t, byte, full, 0, Z.nobuf)


@kernel
def cm_nodes_at(P, S, Z, hist, t, byte, full, code, buf):
    """The nodes of position ``t`` after :func:`~.contexts.cm_begin`: ``P(byte)`` on its path, 0 for the full
    tree (``Z.PP``), or, when coding (``code`` 1: encode ``byte`` into ``buf``; 2: decode from ``buf``; the
    coder state in ``Z.coder``, see :mod:`.coding`), the byte coded (-2: the payload ended)."""
    PF = Z.PF
    PP = Z.PP
    c1 = 0
    if t > 0:
        c1 = int(hist[t - 1])
    eb, mi = cm_match_expect(Z.rs, hist, t)
    if full:
        rows = Z.rows_full
        count = 255
    else:
        rows = Z.rows_path
        count = 8
        if code == 2:
            cm_node_row(rows, 0, 0)
        else:
            for d in range(8):
                cm_node_row(rows, d, byte >> (8 - d))
    apm = P.apm_rate > 0.0
    cbyte = byte
    if code == 2:
        cbyte = 0
    nseen = Z.rs[RS_NSEEN]
    res = cm_predict_nodes(rows, count, c1, eb, mi, nseen, S.T, S.CM, S.W, S.L2, S.MM, S.A1, S.A2, Z.ch, Z.sidx,
                           Z.sbase, Z.stag, Z.X, Z.CB, Z.SEL, Z.DOT, Z.PM, Z.MX, Z.AJ, Z.AW, PF, Z.lut, P.table_bits,
                           P.nm, P.confidence, apm, S.RM, Z.RX, Z.run, P.runs, code, cbyte, Z.coder, buf)
    if code != 0:
        return float(res)
    if not full:
        prob = 1.0
        for d in range(8):
            q = PF[rows[d, 0]]
            if (byte >> (7 - d)) & 1:
                prob = prob * q
            else:
                prob = prob * (1.0 - q)
        return prob
    PP[1] = 1.0
    for node in range(1, 256):
        q = PF[node]
        PP[2 * node] = PP[node] * (1.0 - q)
        PP[2 * node + 1] = PP[node] * q
    return 0.0


@kernel
def cm_learn_byte(P, S, Z, hist, t, byte):
    """Learn ``byte`` at position ``t`` from the prediction just made (its 8 path nodes)."""
    c1 = 0
    if t > 0:
        c1 = int(hist[t - 1])
    eb, mi = cm_match_expect(Z.rs, hist, t)
    cm_learn_path(byte, mi, S.T, S.CM, S.W, S.L2, S.MM, S.A1, S.A2, Z.sidx, Z.sbase, Z.stag, Z.X, Z.CB, Z.SEL,
                  Z.DOT, Z.PM, Z.MX, Z.AJ, Z.AW, c1, P.nm, P.limit, P.lr, P.lr2, P.apm_rate, P.confidence, S.RM,
                  Z.RX, Z.run, P.runs)


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

"""Bitwise entropy coding of the bit-level model: 8 binary decisions per byte, no 256-way rows.

The 256-way coder (:mod:`decepticons.coding.codec` through ``constriction``) needs the full distribution
of each byte, all 255 nodes of the tree, before the byte can be coded; the bit-level model gives the same
probabilities node by node along the byte's path, so coding each bit with its own node probability costs 8
node evaluations instead of 255. The coder is the carry-less binary arithmetic coder of the paq family,
written here as a kernel: a range ``[x1, x2]`` of 32-bit integers; for ``P(bit = 1) = p16 / 65536``::

    xmid = x1 + (x2 - x1 >> 16) * p16 + (((x2 - x1) & 0xFFFF) * p16 >> 16)
    bit 1: x2 = xmid        bit 0: x1 = xmid + 1
    while the leading bytes of x1 and x2 agree: emit it, x1 = x1 << 8 & M, x2 = (x2 << 8 & M) | 255

flushed with the leading byte of ``x1`` plus three more. ``p16 = clip(floor(P * 65536), 1, 65535)`` of the
node probability the scoring path computes (:func:`~decepticons.cm.nodes.cm_predict_nodes`, one node at a
time, in the same order as ``target_log_probs``), so the decoder, fed the same bits, sees the same values.
The decoder reads past the payload's end as an error (``-2``), never as zeros.
"""

from __future__ import annotations

import math

from ..jit import kernel
from .contexts import cm_begin
from .kernels import cm_learn_byte, cm_lo_index, cm_match_expect
from .nodes import cm_predict_nodes
from .state import RS_NSEEN

M32 = 0xFFFFFFFF


@kernel
def cm_p16(p):
    q = int(math.floor(p * 65536.0))
    if q < 1:
        q = 1
    if q > 65535:
        q = 65535
    return q


@kernel
def cm_node_row(rows, d, byte_so_far):
    """Row ``d`` of the path rows for a byte whose high bits so far are ``byte_so_far`` (``d`` bits)."""
    node = (1 << d) | byte_so_far
    rows[d, 0] = node
    rows[d, 1] = d
    if d < 4:
        rows[d, 2] = node
        rows[d, 3] = 0
    else:
        rows[d, 2] = cm_lo_index(node, d)
        rows[d, 3] = 1 + (byte_so_far >> (d - 4))


@kernel
def cm_bit_prob(P, S, Z, hist, t, d):
    """P(bit = 1) at depth ``d`` of position ``t`` (row ``d`` of ``Z.rows_path`` set), through the scoring
    path's node kernel."""
    c1 = 0
    if t > 0:
        c1 = int(hist[t - 1])
    eb, mi = cm_match_expect(Z.rs, hist, t)
    rows = Z.rows_path[d:d + 1]
    cm_predict_nodes(rows, 1, c1, eb, mi, Z.rs[RS_NSEEN], S.T, S.CM, S.W, S.L2, S.MM, S.A1, S.A2, Z.ch, Z.sidx,
                     Z.sbase, Z.stag, Z.X, Z.CB, Z.SEL, Z.DOT, Z.PM, Z.MX, Z.AJ, Z.AW, Z.PF, Z.lut, P.table_bits,
                     P.nm, P.confidence, P.apm_rate > 0.0, S.RM, Z.RX, Z.run, P.runs)
    return Z.PF[Z.rows_path[d, 0]]


@kernel
def cm_encode(P, S, Z, x, start, end, learn, out, coder):
    """Encode positions ``start..end-1`` into ``out`` from ``coder = [x1, x2, bytes written]``; returns the
    next position (``< end`` when ``out`` is nearly full: grow it and call again)."""
    x1 = coder[0]
    x2 = coder[1]
    pos = coder[2]
    t = start
    while t < end:
        if pos + 40 > len(out):
            break
        b = int(x[t])
        cm_begin(P.kinds, P.table_bits, P.match_min, S.T, Z.ch, Z.sidx, Z.sbase, Z.stag, Z.rs, Z.mtab, Z.run, Z.ind,
                 x, t)
        for d in range(8):
            cm_node_row(Z.rows_path, d, b >> (8 - d))
            p16 = cm_p16(cm_bit_prob(P, S, Z, x, t, d))
            r = x2 - x1
            xmid = x1 + (r >> 16) * p16 + (((r & 0xFFFF) * p16) >> 16)
            if (b >> (7 - d)) & 1:
                x2 = xmid
            else:
                x1 = xmid + 1
            while ((x1 ^ x2) & 0xFF000000) == 0:
                out[pos] = x2 >> 24
                pos += 1
                x1 = (x1 << 8) & M32
                x2 = ((x2 << 8) & M32) | 255
        if learn:
            cm_learn_byte(P, S, Z, x, t, b)
        t += 1
    coder[0] = x1
    coder[1] = x2
    coder[2] = pos
    return t


@kernel
def cm_flush(out, coder):
    """The coder's last bytes: the leading byte of x1, then three bytes of padding ones."""
    pos = coder[2]
    out[pos] = coder[0] >> 24
    out[pos + 1] = 255
    out[pos + 2] = 255
    out[pos + 3] = 255
    coder[2] = pos + 4


@kernel
def cm_decode(P, S, Z, payload, n, learn, out):
    """Decode ``n`` bytes into ``out`` (which is also the history); returns ``n``, or ``-2`` when the payload
    ends before them (a truncated or forged file)."""
    x1 = 0
    x2 = M32
    xv = 0
    pos = 0
    for _ in range(4):
        xv = (xv << 8) | (int(payload[pos]) if pos < len(payload) else 0)
        pos += 1
    for t in range(n):
        cm_begin(P.kinds, P.table_bits, P.match_min, S.T, Z.ch, Z.sidx, Z.sbase, Z.stag, Z.rs, Z.mtab, Z.run, Z.ind,
                 out, t)
        b = 0
        for d in range(8):
            cm_node_row(Z.rows_path, d, b)
            p16 = cm_p16(cm_bit_prob(P, S, Z, out, t, d))
            r = x2 - x1
            xmid = x1 + (r >> 16) * p16 + (((r & 0xFFFF) * p16) >> 16)
            if xv <= xmid:
                b = (b << 1) | 1
                x2 = xmid
            else:
                b = b << 1
                x1 = xmid + 1
            while ((x1 ^ x2) & 0xFF000000) == 0:
                if pos >= len(payload):
                    return -2
                x1 = (x1 << 8) & M32
                x2 = ((x2 << 8) & M32) | 255
                xv = ((xv << 8) & M32) | int(payload[pos])
                pos += 1
        out[t] = b
        if learn:
            cm_learn_byte(P, S, Z, out, t, b)
    return n

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
node probability the scoring path computes, inside the same node loop and in the same order as
``target_log_probs`` (:func:`~decepticons.cm.nodes.cm_predict_nodes` with ``code`` 1 or 2), so the decoder,
fed the same bits, sees the same values.
The decoder reads past the payload's end as an error (``-2``), never as zeros.
"""

from __future__ import annotations

from ..jit import kernel
from .contexts import cm_begin
from .kernels import cm_learn_byte, cm_nodes_at

M32 = 0xFFFFFFFF


@kernel
def cm_encode(P, S, Z, x, start, end, learn, out):
    """Encode positions ``start..end-1`` into ``out`` (coder state ``Z.coder = [x1, x2, -, bytes written]``);
    returns the next position (``< end`` when ``out`` is nearly full: grow it and call again)."""
    t = start
    while t < end:
        if Z.coder[3] + 40 > len(out):
            break
        b = int(x[t])
        cm_begin(P.kinds, P.table_bits, P.match_min, S.T, Z.ch, Z.sidx, Z.sbase, Z.stag, Z.rs, Z.mtab, Z.run, Z.ind,
                 x, t)
        cm_nodes_at(P, S, Z, x, t, b, False, 1, out)
        if learn:
            cm_learn_byte(P, S, Z, x, t, b)
        t += 1
    return t


@kernel
def cm_flush(out, coder):
    """The coder's last bytes: the leading byte of x1, then three bytes of padding ones."""
    pos = coder[3]
    out[pos] = coder[0] >> 24
    out[pos + 1] = 255
    out[pos + 2] = 255
    out[pos + 3] = 255
    coder[3] = pos + 4


@kernel
def cm_decode(P, S, Z, payload, n, learn, out):
    """Decode ``n`` bytes into ``out`` (which is also the history); returns ``n``, or ``-2`` when the payload
    ends before them (a truncated or forged file)."""
    coder = Z.coder
    coder[0] = 0
    coder[1] = M32
    xv = 0
    for i in range(4):
        xv = (xv << 8) | (int(payload[i]) if i < len(payload) else 0)
    coder[2] = xv
    coder[3] = 4
    for t in range(n):
        cm_begin(P.kinds, P.table_bits, P.match_min, S.T, Z.ch, Z.sidx, Z.sbase, Z.stag, Z.rs, Z.mtab, Z.run, Z.ind,
                 out, t)
        b = int(cm_nodes_at(P, S, Z, out, t, 0, False, 2, payload))
        if b < 0:
            return -2
        out[t] = b
        if learn:
            cm_learn_byte(P, S, Z, out, t, b)
    return n

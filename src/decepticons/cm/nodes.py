"""Prediction of one binary node of the byte tree: inputs, two mixing layers and the APM stage.

Node ``n`` (``c0``: 1, then the bits so far; depth ``d``; index ``j`` in its nibble's slot, 1..15) of a
byte at position t. Inputs (``X[n]: float64[ni]``), each in the stretch domain ``st(p) = ln(p / (1 - p))``::

    X[n, c]        = st(p_c)                       p_c: context c's adaptive probability (slot entry j)
    X[n, nc + c]   = st(CM[c, h_c])                state map: h_c = (n0, n1), the entry's bit history
                                                   (when ``confidence``)
    X[n, ro + c]   = +-st(RM[c, run_c])            run: + when the context's last byte has bit 1 here, 0 off
                                                   its path (when ``runs``)
    X[n, ni - 2]   = +-st(MM[min(len, 31)])        match model: + when the expected byte's bit is 1,
                                                   0 off the expected byte's path or without a match
    X[n, ni - 1]   = 1                             bias

Mixing (``nm`` first-layer mixers, weight rows selected by ``s_0 = n``, ``s_1`` = (contexts seen, match
length bucket, depth), ``s_2`` = previous byte; a second layer by node)::

    z_k = clip(sum_i W[k, s_k, i] X[n, i], +-8),   p_k = sq(z_k) = 1 / (1 + exp(-z_k))
    z   = clip(sum_k L2[n, k] z_k, +-8),            p_2 = sq(z)

APM (33 cells over z in [-8, 8], linear interpolation ``a(ctx) = (1 - w) A[ctx, j] + w A[ctx, j + 1]``)::

    P(bit = 1) = clip((2 p_2 + a_1(n) + a_2(n + 256 c1)) / 4, 2**-15, 1 - 2**-15)     (p_2 without APM)

Every intermediate is kept in the scratch rows of node n, for learning (:mod:`.learn`).
"""

from __future__ import annotations

import math

from ..jit import kernel
from .contexts import cm_find_slot
from .state import CELLS

PMIN = 1.0 / 32768.0


@kernel
def cm_squash(z):
    return 1.0 / (1.0 + math.exp(-z))


@kernel
def cm_count_bucket(n):
    if n < 4:
        return n
    if n < 8:
        return 4
    if n < 16:
        return 5
    if n < 64:
        return 6
    return 7


@kernel
def cm_node_row(rows, d, byte_so_far):
    """Row ``d`` of the path rows of a byte whose first ``d`` bits are ``byte_so_far``."""
    node = (1 << d) | byte_so_far
    rows[d, 0] = node
    rows[d, 1] = d
    if d < 4:
        rows[d, 2] = node
        rows[d, 3] = 0
    else:
        dl = d - 4
        rows[d, 2] = (1 << dl) | (node & ((1 << dl) - 1))
        rows[d, 3] = 1 + (byte_so_far >> dl)


@kernel
def cm_apm_cell(z):
    """Lower cell and upper weight of ``z`` (clipped to [-8, 8]) on the 33-cell grid."""
    pos = (z + 8.0) * 2.0
    j = int(math.floor(pos))
    if j > CELLS - 2:
        j = CELLS - 2
    if j < 0:
        j = 0
    return j, pos - j


@kernel
def cm_predict_nodes(rows, count, c1, eb, mi, nseen, T, CM, W, L2, MM, A1, A2, ch, sidx, sbase, stag, X, CB, SEL,
                     DOT, PM, MX, AJ, AW, PF, lut, table_bits, nm, confidence, apm, RM, RX, run, runs, code, byte, cs,
                     buf):
    """P(bit = 1) of the nodes ``rows[:count]`` (each ``(node, depth, j, nib)``, see the module docstring)
    into ``PF``; a row with ``j == 1`` and ``nib > 0`` starts a low nibble: its slots are looked up first.
    ``eb``: the match model's expected byte (-1: none), ``mi``: its length bucket. One call per byte: the
    node loop is written out here (a call per node, passing its arrays, would cost more than the node).

    ``code``: 0 predict only; 1 also encode each node's bit of ``byte`` into ``buf`` with the binary coder
    of :mod:`.coding` (state ``cs``); 2 decode each bit from the payload ``buf`` and set the next row from
    it (``rows`` start with the root only). Returns the byte coded (or -2: the payload ended)."""
    ni = X.shape[1]
    nc = sidx.shape[0]
    ro = nc * (2 if confidence else 1)
    for e in range(count):
        node = rows[e, 0]
        depth = rows[e, 1]
        j = rows[e, 2]
        nib = rows[e, 3]
        if j == 1 and nib > 0:
            for c in range(nc):
                cm_find_slot(T, c, ch[c], nib, table_bits, sidx, sbase, stag)
        x = X[node]
        for c in range(nc):
            s = sidx[c, nib]
            v = 1 << 31
            if s >= 0:
                v = int(T[s, j])
            sv = lut[v >> 20]
            x[c] = sv
            if confidence:
                st = v & 0xFF
                CB[node, c] = st
                q = int(CM[c, st] * 4096.0)
                x[nc + c] = lut[min(max(q, 0), 4095)]
            if runs:
                r = ro + c
                rb = run[c, 0]
                RX[node, c] = -1
                x[r] = 0.0
                if rb >= 0 and ((rb + 256) >> (8 - depth)) == node:
                    bit = (rb >> (7 - depth)) & 1
                    RX[node, c] = bit
                    q = int(RM[c, run[c, 1]] * 4096.0)
                    sr = lut[min(max(q, 0), 4095)]
                    x[r] = sr if bit == 1 else -sr
        mb = 0
        MX[node] = -1
        x[ni - 2] = 0.0
        if eb >= 0 and ((eb + 256) >> (8 - depth)) == node:
            bit = (eb >> (7 - depth)) & 1
            MX[node] = bit
            q = int(MM[mi] * 4096.0)
            sm = lut[min(max(q, 0), 4095)]
            x[ni - 2] = sm if bit == 1 else -sm
            mb = 1 if mi < 16 else (2 if mi < 31 else 3)
        x[ni - 1] = 1.0
        SEL[node, 0] = node
        SEL[node, 1] = ((min(nseen, 15) * 4 + mb) * 8) + depth
        SEL[node, 2] = c1
        z2 = 0.0
        for k in range(nm):
            w = W[k, SEL[node, k]]
            z = 0.0
            for i in range(ni):
                z += w[i] * x[i]
            if z > 8.0:
                z = 8.0
            if z < -8.0:
                z = -8.0
            DOT[node, k] = z
            PM[node, k] = cm_squash(z)
            z2 += L2[node, k] * z
        if z2 > 8.0:
            z2 = 8.0
        if z2 < -8.0:
            z2 = -8.0
        DOT[node, 3] = z2
        p2 = cm_squash(z2)
        PM[node, 3] = p2
        p = p2
        if apm:
            a, wgt = cm_apm_cell(z2)
            AJ[node] = a
            AW[node] = wgt
            ctx2 = node + 256 * c1
            a1 = (1.0 - wgt) * A1[node, a] + wgt * A1[node, a + 1]
            a2 = (1.0 - wgt) * A2[ctx2, a] + wgt * A2[ctx2, a + 1]
            p = (2.0 * p2 + a1 + a2) * 0.25
        if p < PMIN:
            p = PMIN
        if p > 1.0 - PMIN:
            p = 1.0 - PMIN
        PF[node] = p
        if code != 0:
            p16 = int(math.floor(p * 65536.0))
            p16 = min(max(p16, 1), 65535)
            x1 = cs[0]
            x2 = cs[1]
            r = x2 - x1
            xmid = x1 + (r >> 16) * p16 + (((r & 0xFFFF) * p16) >> 16)
            if code == 1:
                bit = (byte >> (7 - depth)) & 1
            else:
                bit = 1 if cs[2] <= xmid else 0
            if bit == 1:
                x2 = xmid
            else:
                x1 = xmid + 1
            while ((x1 ^ x2) & 0xFF000000) == 0:
                pos = cs[3]
                if code == 1:
                    buf[pos] = x2 >> 24
                else:
                    if pos >= len(buf):
                        return -2
                    cs[2] = ((cs[2] << 8) & 0xFFFFFFFF) | int(buf[pos])
                cs[3] = pos + 1
                x1 = (x1 << 8) & 0xFFFFFFFF
                x2 = ((x2 << 8) & 0xFFFFFFFF) | 255
            cs[0] = x1
            cs[1] = x2
            if code == 2:
                byte = (byte << 1) | bit
                if e + 1 < count:
                    cm_node_row(rows, e + 1, byte)
    return byte

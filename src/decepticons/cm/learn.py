"""Learning from a byte once it is known: the 8 nodes on its path, after the whole byte was predicted.

Because nothing learns between the bits of a byte, the full distribution (the 255 nodes, :mod:`.kernels`)
and the path-only probability are the same numbers. For each node ``n`` on the path with bit ``y``:

* slots: a nibble with no slot claims the lower-priority slot of its pair (entries reset to ``p = 1/2,
  n = 0``; entry 0 = tag << 16, its priority counting the updates of the nibble's first node);
* each context's entry ``p22 << 10 | n``: ``p22 += ((y << 22) - p22) * floor(65536 / (n + 1.5)) >> 16``,
  ``n = min(n + 1, limit)``;
* confidence maps and the match hit rates: ``q += 0.02 (y' - q)`` at the cell used (``y'``: the bit, or
  whether the expected bit was right);
* mixers: ``W[k, s_k] += lr (y - p_k) X[n]``; second layer ``L2[n, k] += lr2 (y - p_2) z_k``;
* APM cells: ``A[ctx, j] += rate (1 - w) (y - A[ctx, j])``, ``A[ctx, j + 1] += rate w (y - A[ctx, j + 1])``.
"""

from __future__ import annotations

from ..jit import kernel

MAP_RATE = 0.02


@kernel
def cm_claim_slot(T, c, nib, sidx, sbase, stag):
    """The slot of nibble ``nib`` of context ``c``, claimed now if the lookup found none."""
    s = sidx[c, nib]
    if s >= 0:
        return s
    b = sbase[c, nib]
    s = b
    if (int(T[b ^ 1, 0]) & 0xFFFF) < (int(T[b, 0]) & 0xFFFF):
        s = b ^ 1
    T[s, 0] = stag[c, nib] << 16
    for e in range(1, 16):
        T[s, e] = 1 << 31
    sidx[c, nib] = s
    return s


@kernel
def cm_learn_path(byte, mi, T, CM, W, L2, MM, A1, A2, sidx, sbase, stag, X, CB, SEL, DOT, PM, MX, AJ, AW, c1, nm,
                  limit, lr, lr2, apm_rate, confidence):
    """Every update of the 8 nodes on the path of ``byte`` (see the module docstring); one call per byte."""
    ni = X.shape[1]
    nc = sidx.shape[0]
    for d in range(8):
        node = (256 + byte) >> (8 - d)
        y = (byte >> (7 - d)) & 1
        if d < 4:
            nib = 0
            j = node
        else:
            nib = 1 + (byte >> 4)
            dl = d - 4
            j = (1 << dl) | (node & ((1 << dl) - 1))
        x = X[node]
        for c in range(nc):
            s = sidx[c, nib]
            if s < 0:
                s = cm_claim_slot(T, c, nib, sidx, sbase, stag)
            v = int(T[s, j])
            p = v >> 10
            n = v & 1023
            p += (((y << 22) - p) * int(65536.0 / (n + 1.5))) >> 16
            if n < limit:
                n += 1
            T[s, j] = (p << 10) | n
            if j == 1:
                head = int(T[s, 0])
                if (head & 0xFFFF) < 0xFFFF:
                    T[s, 0] = head + 1
            if confidence:
                cb = CB[node, c]
                CM[c, cb] += MAP_RATE * (y - CM[c, cb])
        if MX[node] >= 0:
            hit = 1.0 if MX[node] == y else 0.0
            MM[mi] += MAP_RATE * (hit - MM[mi])
        e2 = lr2 * (y - PM[node, 3])
        for k in range(nm):
            w = W[k, SEL[node, k]]
            g = lr * (y - PM[node, k])
            for i in range(ni):
                w[i] += g * x[i]
            L2[node, k] += e2 * DOT[node, k]
        if apm_rate > 0.0:
            a = AJ[node]
            wgt = AW[node]
            ctx2 = node + 256 * c1
            A1[node, a] += apm_rate * (1.0 - wgt) * (y - A1[node, a])
            A1[node, a + 1] += apm_rate * wgt * (y - A1[node, a + 1])
            A2[ctx2, a] += apm_rate * (1.0 - wgt) * (y - A2[ctx2, a])
            A2[ctx2, a + 1] += apm_rate * wgt * (y - A2[ctx2, a + 1])

"""Learning from a byte once it is known: the 8 nodes on its path, after the whole byte was predicted.

Because nothing learns between the bits of a byte, the full distribution (the 255 nodes, :mod:`.kernels`)
and the path-only probability are the same numbers. For each node ``n`` on the path with bit ``y``:

* slots: a nibble with no slot claims the lower-priority slot of its pair (entries reset to ``p = 1/2,
  n = 0``; entry 0 = tag << 16; its low byte is the priority: a low nibble counts the updates of its first
  node, a high nibble holds the context's run, ``tag << 16 | last byte << 8 | run``, updated after the byte);
* run maps: ``RM[c, run] += 0.02 (hit - RM[c, run])`` where the context's last byte predicted the bit;
* each context's entry ``p16 << 16 | n << 8 | n0 << 4 | n1``: ``p16 += ((y << 16) - p16) *
  floor(65536 / (n + 1.5)) >> 16``, ``n = min(n + 1, limit)``; the bit history counts ``n_y = min(n_y + 1,
  15)`` and, when the other count exceeds 2, ``n_other = n_other // 2 + 1`` (a nonstationary history);
* state maps and the match hit rates: ``q += 0.02 (y' - q)`` at the cell used (``y'``: the bit, or
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
    if (int(T[b ^ 1, 0]) & 0xFF) < (int(T[b, 0]) & 0xFF):
        s = b ^ 1
    T[s, 0] = stag[c, nib] << 16
    for e in range(1, 16):
        T[s, e] = 1 << 31
    sidx[c, nib] = s
    return s


@kernel
def cm_learn_path(byte, mi, T, CM, W, L2, MM, A1, A2, sidx, sbase, stag, X, CB, SEL, DOT, PM, MX, AJ, AW, c1, nm,
                  limit, lr, lr2, apm_rate, confidence, RM, RX, run, runs):
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
            p = v >> 16
            n = (v >> 8) & 0xFF
            n0 = (v >> 4) & 15
            n1 = v & 15
            p += (((y << 16) - p) * int(65536.0 / (n + 1.5))) >> 16
            if n < limit:
                n += 1
            if y == 1:
                n1 = min(n1 + 1, 15)
                if n0 > 2:
                    n0 = n0 // 2 + 1
            else:
                n0 = min(n0 + 1, 15)
                if n1 > 2:
                    n1 = n1 // 2 + 1
            T[s, j] = (p << 16) | (n << 8) | (n0 << 4) | n1
            if nib > 0 and j == 1:
                head = int(T[s, 0])
                if (head & 0xFF) < 0xFF:
                    T[s, 0] = head + 1
            if d == 7:  # the context's run: same byte again, or a new one
                head = int(T[sidx[c, 0], 0])
                if (head & 0xFF) and ((head >> 8) & 0xFF) == byte:
                    if (head & 0xFF) < 0xFF:
                        T[sidx[c, 0], 0] = head + 1
                else:
                    T[sidx[c, 0], 0] = (head & 0xFFFF0000) | (byte << 8) | 1
            if runs and RX[node, c] >= 0:
                hit = 1.0 if RX[node, c] == y else 0.0
                rk = run[c, 1]
                RM[c, rk] += MAP_RATE * (hit - RM[c, rk])
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

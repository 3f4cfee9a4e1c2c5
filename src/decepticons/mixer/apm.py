"""Adaptive probability maps (APM): a secondary estimate of the probability of the mix's likeliest byte.

With ``b* = argmax p``, ``q = p(b*)`` and the stretch ``s = ln(q / (1 - q))`` clamped to [-8, 8] and cut
into 32 cells (``pos = 2 (s + 8)``, cell ``j = floor(pos)``, weight ``w = pos - j``), each map is a
piecewise-linear function of ``s`` over 33 nodes (initialised to the identity ``1 / (1 + e^-s)``), one
per small context: ``A1`` by (highest seen row, whether the match model predicts b*), ``A2`` by the
previous byte::

    A(s) = (1 - w) A[ctx, j] + w A[ctx, j + 1]
    q'   = q / 2 + A1(s) / 4 + A2(s) / 4                      (clamped to [1e-7, 1 - 1e-7])
    p'(b*) = q',    p'(c) = p(c) (1 - q') / sum_{c' != b*} p(c')   for c != b*

After byte ``x`` both nodes of both maps move towards ``y = [x == b*]``::

    A[ctx, j] += rate (1 - w) (y - A[ctx, j]),      A[ctx, j + 1] += rate w (y - A[ctx, j + 1])
"""

from __future__ import annotations

import math

from ..jit import kernel
from ..memory.kernels import INFO_ROW
from .state import SEL_APM1, SEL_BEST, SEL_CELL, SEL_MATCH, SEL_PREV


@kernel
def apm_predict(A1, A2, p, z, lz, info, sel, apm_w, pf, lrow, on):
    """Final ``pf`` (probabilities) and ``lrow`` (log-probabilities) from the mix ``p`` (logits ``z``,
    log normaliser ``lz``) by the maps of the module docstring; the mix itself when ``on`` is false or
    ``p`` is degenerate (``apm_w[0] = -1`` then: nothing to learn)."""
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
        apm_w[0] = -1.0
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
    a1c = info[INFO_ROW] * 2 + (1 if sel[SEL_MATCH] == best else 0)
    a2c = sel[SEL_PREV]
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
    sel[SEL_BEST] = best
    sel[SEL_CELL] = j
    sel[SEL_APM1] = a1c
    apm_w[0] = w


@kernel
def apm_learn(A1, A2, sel, apm_w, byte, rate):
    """The node update of the module docstring (nothing when the prediction skipped the maps)."""
    w = apm_w[0]
    if w < 0.0:
        return
    y = 1.0 if byte == sel[SEL_BEST] else 0.0
    j = sel[SEL_CELL]
    a1c = sel[SEL_APM1]
    a2c = sel[SEL_PREV]
    A1[a1c, j] += rate * (1.0 - w) * (y - A1[a1c, j])
    A1[a1c, j + 1] += rate * w * (y - A1[a1c, j + 1])
    A2[a2c, j] += rate * (1.0 - w) * (y - A2[a2c, j])
    A2[a2c, j + 1] += rate * w * (y - A2[a2c, j + 1])

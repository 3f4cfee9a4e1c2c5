"""The expert stage: a second mixer over the base mix and the external experts, starting from "trust the base".

Inputs at position t (rows of ``X2: float64[E + 1, 256]``): the base mix's log-distribution
``log p_base = z - lz`` (:mod:`.mix`, the n-gram / word / document / match inputs, unchanged by the experts)
and each expert's log-distribution ``log q_j`` (floored at ``EXT_FLOOR`` so that a log 0 stays finite).
Each input's weight is chosen by its own small context: the base's by ``c_0 = 8 m + B8(max p_base)``, where
``m = sum_{j < 4} active_j 2^j`` says which experts take part (so a fixed expert that joins only when scoring
meets a fresh base weight, not one settled without it; up to 128 sets), expert j's by its confidence
(``expert_context``; ``a_j = [argmax q_j == argmax p_base]``, agreement with the base)::

    "none"        c_j = 0
    "agreement"   c_j = a_j
    "confidence"  c_j = (a_j * N_TOP + T(max q_j)) * N_BASE + B4(max p_base)                     (default)
    "entropy"     c_j = ((a_j * N_TOP + T(max q_j)) * N_ENT + H(entropy of q_j)) * N_BASE + B4(max p_base)

with ``T``, ``H``, ``B4``, ``B8`` buckets of the expert's top-1 mass, its entropy in bits and the base's top-1
mass (thresholds below; at most ``N_CTX`` sets).
Mixing is geometric, as in the base::

    z2(c) = U[0, c_0] log p_base(c) + sum_j active_j U[j, c_j] log q_j(c),      p2 = softmax(z2)

``U[0] = 1`` and ``U[j > 0] = 0`` initially, so ``p2 = p_base`` until an expert earns weight. After byte ``x``
each used weight follows the gradient of ``log p2(x)``::

    U[i, c_i] += rate_i * (X2[i, x] - sum_c p2(c) X2[i, c]),    rate_i = lr * (RATE_FLOOR + 2048 / (1024 + n_i))

(``n_i``: updates of that weight so far, kept in ``U[i, c_i, 1]``): young weights learn fast, then the rate
settles at ``RATE_FLOOR * lr``, lower than the base's settled rate, because an expert that largely repeats
the base carries a small signal that a fast rate would drown in noise. An inactive expert (``active_j = 0``:
no honest prediction for it at these positions, see :mod:`.folds`) contributes nothing and learns nothing. The
APM (:mod:`.apm`) then refines ``p2``; the base keeps learning from its own ``p_base``, so it is the same
base with or without experts.
"""

from __future__ import annotations

import math

from ..jit import kernel
from .mix import softmax_into

#: floor of an expert's log-probability (probability about 1e-13)
EXT_FLOOR = -30.0
#: settled rate of the stage, as a fraction of ``expert_lr``
RATE_FLOOR = 0.1
#: ``expert_context`` names, in the order of their kernel codes
EXPERT_CONTEXTS = ("none", "agreement", "confidence", "entropy")
N_TOP = 5     # expert top-1 mass: < 0.25, < 0.5, < 0.75, < 0.9, more
N_ENT = 4     # expert entropy (bits): < 1, < 2, < 3.5, more
N_BASE = 4    # base top-1 mass: < 0.3, < 0.6, < 0.9, more
N_BASE8 = 8   # base top-1 mass for the base's own weight: < 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, more
N_CTX = 2 * N_TOP * N_ENT * N_BASE


@kernel
def top_bucket(q):
    """``T``: bucket of an expert's top-1 mass."""
    if q < 0.25:
        return 0
    if q < 0.5:
        return 1
    if q < 0.75:
        return 2
    if q < 0.9:
        return 3
    return 4


@kernel
def entropy_bucket(h):
    """``H``: bucket of an entropy in bits."""
    if h < 1.0:
        return 0
    if h < 2.0:
        return 1
    if h < 3.5:
        return 2
    return 3


@kernel
def base_bucket(q):
    """``B4``: bucket of the base's top-1 mass."""
    if q < 0.3:
        return 0
    if q < 0.6:
        return 1
    if q < 0.9:
        return 2
    return 3


@kernel
def base_bucket8(q):
    """``B8``: finer bucket of the base's top-1 mass (the base weight's context)."""
    if q < 0.1:
        return 0
    if q < 0.2:
        return 1
    if q < 0.35:
        return 2
    if q < 0.5:
        return 3
    if q < 0.65:
        return 4
    if q < 0.8:
        return 5
    if q < 0.95:
        return 6
    return 7


@kernel
def n_active(active):
    """How many experts take part (0: the stage is skipped, the base mix goes to the APM as it is)."""
    n = 0
    for j in range(active.shape[0]):
        n += active[j]
    return n


@kernel
def expert_context(scheme, agree, top, ent, base):
    """Context of an expert's weight under ``scheme`` (an index of EXPERT_CONTEXTS, module docstring)."""
    if scheme == 0:
        return 0
    if scheme == 1:
        return agree
    if scheme == 2:
        return (agree * N_TOP + top) * N_BASE + base
    return ((agree * N_TOP + top) * N_ENT + ent) * N_BASE + base


@kernel
def expert_stage_predict(ext, ext_row, z, lz, p, U, X2, z2, p2, ctx, active, scheme):
    """Fill ``X2`` and the contexts ``ctx``, mix into ``z2`` / ``p2`` (module docstring); returns the log of
    the softmax normaliser, so ``log p2(c) = z2(c) - returned``."""
    n_exp = ext.shape[1]
    best = 0
    for c in range(1, 256):
        if p[c] > p[best]:
            best = c
    qb = p[best]
    bb = base_bucket(qb)
    for c in range(256):
        X2[0, c] = z[c] - lz
    mask = 0
    for j in range(min(n_exp, 4)):
        mask += active[j] << j
    ctx[0] = mask * N_BASE8 + base_bucket8(qb)
    for j in range(n_exp):
        if active[j] == 0:
            ctx[j + 1] = 0
            continue
        mx = EXT_FLOOR
        arg = 0
        for c in range(256):
            v = max(ext[ext_row, j, c], EXT_FLOOR)
            X2[j + 1, c] = v
            if v > mx:
                mx = v
                arg = c
        eb = 0
        if scheme == 3:
            h = 0.0
            for c in range(256):
                v = X2[j + 1, c]
                h -= math.exp(v) * v
            eb = entropy_bucket(h / math.log(2.0))
        ctx[j + 1] = expert_context(scheme, 1 if arg == best else 0, top_bucket(math.exp(mx)), eb, bb)
    for c in range(256):
        z2[c] = 0.0
    for i in range(n_exp + 1):
        if i > 0 and active[i - 1] == 0:
            continue
        w = U[i, ctx[i], 0]
        for c in range(256):
            z2[c] += w * X2[i, c]
    return softmax_into(z2, p2)


@kernel
def expert_stage_update(U, X2, p2, ctx, active, byte, lr):
    """The weight update of the module docstring for every used input."""
    n_exp = active.shape[0]
    for i in range(n_exp + 1):
        if i > 0 and active[i - 1] == 0:
            continue
        k = ctx[i]
        rate = lr * (RATE_FLOOR + 2048.0 / (1024.0 + U[i, k, 1]))
        U[i, k, 1] += 1.0
        e = 0.0
        for c in range(256):
            e += p2[c] * X2[i, c]
        U[i, k, 0] += rate * (X2[i, byte] - e)

"""Match model: the byte that followed the most recent occurrence of the current context.

``mtab: int64[2**k]`` maps a hash of the last ``min_len`` bytes to the position after them (0: none);
``mstate = [ptr, len]`` (slots MATCH_PTR, MATCH_LEN) is the current match: ``hist[ptr]`` is the predicted
byte and ``len`` how many bytes before it agree with the recent history (0: no match, verified backwards,
at most 32). Its input row gives the predicted byte the hit rate ``q = mconf[min(len, 31)]``::

    row(c) = log q  for c = hist[ptr],     log((1 - q) / 255)  otherwise      (uniform without a match)

and ``mconf[len] += 0.02 * ([hit] - mconf[len])``, clamped to [0.01, 0.999], after every predicted byte.
"""

from __future__ import annotations

import math

from ..jit import kernel
from ..memory.kernels.chain import NEG_LOG_256
from ..memory.kernels.contexts import P_MOD
from .state import MATCH_LEN, MATCH_PTR


@kernel
def match_update(hist, t, mtab, mstate, min_len):
    """After ``hist[t]`` is known: extend or drop the current match, and (re)index the context ending at
    t + 1 (a dropped match restarts from the indexed position when its verified length reaches
    ``min_len``)."""
    ptr = mstate[MATCH_PTR]
    ln = mstate[MATCH_LEN]
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
                # verify and measure the real match length backwards (bounded)
                k = 0
                while k < 32 and cand - 1 - k >= 0 and t - k >= 0 and hist[cand - 1 - k] == hist[t - k]:
                    k += 1
                ln = k
                if ln < min_len:
                    ln = 0
        mtab[i] = t + 1
    mstate[MATCH_PTR] = ptr
    mstate[MATCH_LEN] = ln


@kernel
def match_row(hist, mstate, mconf, row):
    """The match model's input row (module docstring); returns the predicted byte, -1 without a match."""
    ln = mstate[MATCH_LEN]
    if ln <= 0:
        for c in range(256):
            row[c] = NEG_LOG_256
        return -1
    b = int(hist[mstate[MATCH_PTR]])
    q = mconf[min(ln, 31)]
    lo = math.log((1.0 - q) / 255.0)
    for c in range(256):
        row[c] = lo
    row[b] = math.log(q)
    return b


@kernel
def match_learn(mstate, mconf, predicted, byte):
    """Hit-rate update of the module docstring (nothing without a prediction)."""
    if predicted < 0:
        return
    i = min(mstate[MATCH_LEN], 31)
    hit = 1.0 if predicted == byte else 0.0
    q = mconf[i] + (hit - mconf[i]) * 0.02
    if q < 0.01:
        q = 0.01
    if q > 0.999:
        q = 0.999
    mconf[i] = q

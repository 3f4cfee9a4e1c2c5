"""The mixer's trace: what decided each byte, recorded by a run of its own (the scoring loops are untouched).

:func:`mixer_trace_run` runs exactly the positions of :func:`~.kernels.mixer_run` (the same prediction and,
when ``learn``, the same learning) and writes, per position t, into ``out[t - out_off]`` (``int64[n, 3]``):

* ``TRACE_ROW``: the highest row of the n-gram chain whose context was seen (0: order 0 alone);
* ``TRACE_MATCH``: the match model's length (0: no match);
* ``TRACE_DOMINANT``: the base input that pulled hardest towards the actual byte ``x = x_t``. With the mix
  ``z(c) = sum_i w_i X[i, c]`` (``w_i = W1[s1, i] + W2[s2, i]``) and ``p = softmax(z)``, how far the actual
  byte's logit stands above the mix's mean, ``z(x) - sum_c p(c) z(c)``, is a sum of per-input terms
  ``a_i = w_i (X[i, x] - sum_c p(c) X[i, c])``; the dominant input is ``argmax_i a_i`` (an index into
  ``MixerPredictor.input_names()``; with external experts, among the base inputs).
"""

from __future__ import annotations

import math

from ..jit import kernel
from ..memory.kernels import INFO_ROW
from .kernels import mixer_learn_step, mixer_predict_step, tables_have_room
from .state import MATCH_LEN, SEL_SET1, SEL_SET2

#: ``mode`` of ``MixerPredictor``'s block loop that runs :func:`mixer_trace_run` (beside MODE_ROWS, ...)
MODE_TRACE = 3
TRACE_ROW = 0
TRACE_MATCH = 1
TRACE_DOMINANT = 2
TRACE_WIDTH = 3


@kernel
def dominant_input(X, W1, s1, W2, s2, p, byte):
    """``argmax_i w_i (X[i, byte] - sum_c p(c) X[i, c])`` (module docstring); non-finite terms are skipped."""
    n_in = X.shape[0]
    best = 0
    best_a = -math.inf
    for i in range(n_in):
        e = 0.0
        for c in range(256):
            e += p[c] * X[i, c]
        a = (W1[s1, i] + W2[s2, i]) * (X[i, byte] - e)
        if math.isfinite(a) and a > best_a:
            best_a = a
            best = i
    return best


@kernel
def mixer_trace_run(tb, params, mp, state, scr, doc, hist, start, end, learn, ext, ext_off, out, out_off, mode):
    """:func:`~.kernels.mixer_run`'s positions, recording ``out[t - out_off]`` = [highest seen chain row, match
    length, dominant input] instead of the prediction (``mode`` is unused). Returns the first position not
    processed (< end when a table must grow first)."""
    W1, W2, mstate = state.W1, state.W2, state.mstate
    X, p, sel, info = scr.X, scr.p, scr.sel, scr.chain.info
    for t in range(start, end):
        if learn and not tables_have_room(tb, scr, doc):
            return t
        mixer_predict_step(tb, params, mp, state, scr, doc, hist, t, ext, t - ext_off)
        row = t - out_off
        out[row, TRACE_ROW] = info[INFO_ROW]
        out[row, TRACE_MATCH] = mstate[MATCH_LEN]
        out[row, TRACE_DOMINANT] = dominant_input(X, W1, sel[SEL_SET1], W2, sel[SEL_SET2], p, int(hist[t]))
        if learn:
            mixer_learn_step(tb, params, mp, state, scr, doc, hist, t)
    return end

"""Position loops of the count memories over ``hist[start:end]``: predict each position, then count its byte.

Every run is causal: the prediction at t reads the tables as they are after counting ``hist[:t]``. A run
stops early, returning the first position it did not process, when the tables must grow before one more
position fits (the caller grows them and calls again); otherwise it returns ``end``.

Arguments shared by every run: ``tb`` (:class:`~.tables.TableArrays`), ``params``
(:class:`~.tables.CountParams`), ``hist: uint8[T]``, ``start``, ``end``, ``buf``
(:class:`~.chain.ChainBuffers`) and, for the runs that need every row, ``L: float64[n_orders + 1, 256]``.
"""

from __future__ import annotations

import math

from ...jit import kernel
from .chain import INFO_N, INFO_ROW, INFO_U, predict_orders, target_logp
from .contexts import context_keys
from .tables import has_room, lookup_slots, update_counts

#: column of ``rec_int`` holding argmax p_top (columns INFO_ROW, INFO_N, INFO_U hold ``info``)
REC_ARGMAX = 3


@kernel
def ngram_run(tb, params, hist, start, end, learn, buf, L, out, out_off):
    """Rows ``out[t - out_off] = log p_top(. | hist[:t])`` for t in [start, end), counting each byte after
    its row when ``learn``."""
    orders, keys = params.orders, tb.keys
    ctxk, slots, P, info = buf
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(tb, no):
            return t
        context_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        predict_orders(tb, params, slots, P, L, info)
        row = t - out_off
        for c in range(256):
            out[row, c] = L[no, c]
        if learn:
            update_counts(tb, params, ctxk, slots, int(hist[t]))
    return end


@kernel
def ngram_fit_run(tb, params, hist, start, end, buf, tgt, tgt_off):
    """Count ``hist[start:end]``, writing the prequential ``log p(x_t)`` into ``tgt[t - tgt_off]``."""
    orders, keys = params.orders, tb.keys
    ctxk, slots, P, info = buf
    no = orders.shape[0]
    for t in range(start, end):
        if not has_room(tb, no):
            return t
        context_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        b = int(hist[t])
        tgt[t - tgt_off] = target_logp(tb, params, slots, b)
        update_counts(tb, params, ctxk, slots, b)
    return end


@kernel
def records_run(tb, params, hist, start, end, learn, buf, L, rec_p, rec_int, rec_top, off):
    """Per-position records (row ``t - off``): ``rec_p[row, r]`` = p_r(x_t) for every row r,
    ``rec_int[row]`` = [highest seen row, its N, its u, argmax of p_top], ``rec_top[row]`` = max p_top."""
    orders, keys = params.orders, tb.keys
    ctxk, slots, P, info = buf
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(tb, no):
            return t
        context_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        predict_orders(tb, params, slots, P, L, info)
        row = t - off
        b = int(hist[t])
        for r in range(no + 1):
            rec_p[row, r] = math.exp(L[r, b])
        best = 0
        for c in range(1, 256):
            if P[c] > P[best]:
                best = c
        rec_int[row, INFO_ROW] = info[INFO_ROW]
        rec_int[row, INFO_N] = info[INFO_N]
        rec_int[row, INFO_U] = info[INFO_U]
        rec_int[row, REC_ARGMAX] = best
        rec_top[row] = P[best]
        if learn:
            update_counts(tb, params, ctxk, slots, b)
    return end


@kernel
def backoff_run(tb, params, hist, start, end, learn, buf, L, lam, out, out_off):
    """Fitted backoff mixture: ``p(c) = sum_r lam[s, r] * p_r(c)`` with ``s`` the highest row whose
    context was seen at prefix time (rows of ``lam`` sum to 1 and are 0 above ``s``). Log rows into
    ``out[t - out_off]``."""
    orders, keys = params.orders, tb.keys
    ctxk, slots, P, info = buf
    no = orders.shape[0]
    for t in range(start, end):
        if learn and not has_room(tb, no):
            return t
        context_keys(hist, t, orders, ctxk)
        lookup_slots(keys, ctxk, slots)
        predict_orders(tb, params, slots, P, L, info)
        s = info[INFO_ROW]
        row = t - out_off
        for c in range(256):
            v = 0.0
            for r in range(s + 1):
                v += lam[s, r] * math.exp(L[r, c])
            out[row, c] = math.log(v)
        if learn:
            update_counts(tb, params, ctxk, slots, int(hist[t]))
    return end

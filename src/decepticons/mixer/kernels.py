"""The mixer's per-position kernels: predict position t, learn ``hist[t]``, and the loops over positions.

Inputs (rows of ``X: float64[n_in, 256]``), in order: the n-gram chain's rows ``log p_0 .. log p_no``
(learned escapes, :mod:`decepticons.memory.kernels.see`; with ``indep`` the rows below the top are each
order's own estimate over a uniform floor instead), the ``nw`` extra (word) contexts, the document
memory's chain (order 0 and its ``nd`` orders, when it has orders), the match model, then the external
experts' rows ``ext[row, j]`` (floored at -700 so that a log 0 cannot make ``0 * -inf = NaN``).

Weight sets: ``s1`` from the chain (:func:`~.mix.select_set1`), optionally times the word context's
confidence (unseen / N < 4 / N >= 4) and the longest document row seen; ``s2`` = the previous byte.
After the prediction (:mod:`.mix`, then :mod:`.apm`), learning ``x = hist[t]`` updates, in order: the
weights, the APM, the learned escapes (before the counts change: the statistics the prediction used),
the match hit rates, the counts, the document counts and the match index.
"""

from __future__ import annotations

from ..coding.frequencies import quantize_probs
from ..jit import kernel
from ..memory.kernels import INFO_ROW, predict_orders_see, see_learn
from ..memory.kernels.chain import flat_row, predict_orders
from ..memory.kernels.contexts import context_keys
from ..memory.kernels.tables import has_room, lookup_slots, update_counts
from .apm import apm_learn, apm_predict
from .match import match_learn, match_row, match_update
from .mix import mix_predict, mix_update, select_set1
from .state import SEL_MATCH, SEL_PREV, SEL_SET1, SEL_SET2

# ``mode`` of :func:`mixer_run`
MODE_ROWS = 0     # log rows float64[n, 256]
MODE_TARGET = 1   # log-probability of the actual byte, float64[n, 1]
MODE_FREQS = 2    # quantised coding frequencies float64[n, 256]


@kernel
def mixer_predict_step(tb, params, mp, state, scr, doc, hist, t, ext, ext_row):
    """Predict position t: fill ``scr.X``, mix into ``scr.p`` / ``scr.z``, then the APM gives the final
    ``scr.pf`` / ``scr.lrow`` (module docstring)."""
    chain = scr.chain
    X = scr.X
    sel = scr.sel
    no = params.orders.shape[0]
    nw = chain.ctxk.shape[0] - no
    context_keys(hist, t, params.orders, chain.ctxk)
    lookup_slots(tb.keys, chain.ctxk, chain.slots)
    predict_orders_see(tb, params, chain.slots, chain.P, X, chain.info, state.see, scr.see_e, scr.see_idx)
    if mp.indep:
        for i in range(no - 1):
            flat_row(tb, chain.slots[i], params.discount[i + 1], params.escape[i + 1], X[i + 1])
    mrow = no + nw + 1
    nd = doc.sel.shape[0]
    if nd > 0:
        for i in range(nd):
            doc.buf.ctxk[i] = chain.ctxk[doc.sel[i]]
        lookup_slots(doc.tables.keys, doc.buf.ctxk, doc.buf.slots)
        predict_orders(doc.tables, doc.params, doc.buf.slots, doc.buf.P, X[mrow:mrow + nd + 1], doc.buf.info)
        mrow += nd + 1
    sel[SEL_MATCH] = match_row(hist, state.mstate, state.mconf, X[mrow])
    for j in range(ext.shape[1]):
        for c in range(256):
            X[mrow + 1 + j, c] = max(ext[ext_row, j, c], -700.0)
    s1 = select_set1(chain.info, state.mstate, mp.select_match)
    if mp.select_word:
        wb = 0
        if nw > 0 and chain.slots[no] >= 0:
            nwc = tb.tot[chain.slots[no]]
            wb = 0 if nwc == 0 else (1 if nwc < 4 else 2)
        s1 = s1 * 3 + wb
    if mp.select_doc and nd > 0:
        s1 = s1 * (nd + 1) + doc.buf.info[INFO_ROW]
    sel[SEL_SET1] = s1
    sel[SEL_PREV] = int(hist[t - 1]) if t > 0 else 256
    sel[SEL_SET2] = sel[SEL_PREV]
    lz = mix_predict(X, state.W1, sel[SEL_SET1], state.W2, sel[SEL_SET2], scr.z, scr.p)
    apm_predict(state.A1, state.A2, scr.p, scr.z, lz, chain.info, sel, scr.apm_w, scr.pf, scr.lrow, mp.apm)


@kernel
def mixer_learn_step(tb, params, mp, state, scr, doc, hist, t):
    """Learn ``hist[t]`` after :func:`mixer_predict_step` at t (module docstring for the order)."""
    b = int(hist[t])
    sel = scr.sel
    mix_update(scr.X, state.W1, sel[SEL_SET1], state.W2, sel[SEL_SET2], scr.p, b, mp.lr, mp.lr2)
    apm_learn(state.A1, state.A2, sel, scr.apm_w, b, mp.apm_rate)
    if mp.see_rate > 0.0:
        see_learn(tb, params, scr.chain.slots, state.see, scr.see_e, scr.see_idx, b, mp.see_rate)
    match_learn(state.mstate, state.mconf, sel[SEL_MATCH], b)
    update_counts(tb, params, scr.chain.ctxk, scr.chain.slots, b)
    if doc.sel.shape[0] > 0:
        update_counts(doc.tables, doc.params, doc.buf.ctxk, doc.buf.slots, b)
    if mp.match_min > 0:
        match_update(hist, t, state.mtab, state.mstate, mp.match_min)


@kernel
def tables_have_room(tb, scr, doc):
    """Whether one more position fits both the n-gram tables and the document tables without growing."""
    return has_room(tb, scr.chain.ctxk.shape[0]) and has_room(doc.tables, doc.buf.ctxk.shape[0])


@kernel
def mixer_run(tb, params, mp, state, scr, doc, hist, start, end, learn, ext, ext_off, out, out_off, mode):
    """The mixer over positions [start, end) (predict, then learn when ``learn``). ``mode``: MODE_ROWS, log
    rows into ``out[t - out_off]``; MODE_TARGET, the actual byte's log-prob into ``out[t - out_off, 0]``;
    MODE_FREQS, quantised coding frequencies into ``out[t - out_off]``. ``ext`` rows are ``t - ext_off``.
    Returns the first position not processed (< end when a table must grow first)."""
    for t in range(start, end):
        if learn and not tables_have_room(tb, scr, doc):
            return t
        mixer_predict_step(tb, params, mp, state, scr, doc, hist, t, ext, t - ext_off)
        row = t - out_off
        if mode == MODE_ROWS:
            for c in range(256):
                out[row, c] = scr.lrow[c]
        elif mode == MODE_TARGET:
            out[row, 0] = scr.lrow[int(hist[t])]
        else:
            quantize_probs(scr.pf, out[row])
        if learn:
            mixer_learn_step(tb, params, mp, state, scr, doc, hist, t)
    return end


@kernel
def stream_step(tb, params, mp, state, scr, doc, hist, tpos, ext, freqs, online, byte):
    """Stream path, one compiled call per byte. When ``byte >= 0`` it is the byte at ``t = tpos[0]``
    (predicted by the previous call): record it, learn from it (when ``online``) and advance t. Then
    predict the new position and quantise the result into ``freqs``.
    Returns 1, having done nothing, when a table must grow before ``byte`` can be learned; else 0."""
    if byte >= 0:
        t = tpos[0]
        if online and not tables_have_room(tb, scr, doc):
            return 1
        hist[t] = byte
        if online:
            mixer_learn_step(tb, params, mp, state, scr, doc, hist, t)
        tpos[0] = t + 1
    mixer_predict_step(tb, params, mp, state, scr, doc, hist, tpos[0], ext, 0)
    quantize_probs(scr.pf, freqs)
    return 0

"""The mixer's per-position kernels: predict position t, learn ``hist[t]``, and the loops over positions.

Inputs (rows of ``X: float64[n_in, 256]``), in order: the n-gram chain's rows ``log p_0 .. log p_no``
(learned escapes, :mod:`decepticons.memory.kernels.see`; with ``indep`` the rows below the top are each
order's own estimate over a uniform floor instead), the ``nw`` extra (word) contexts, the document
memory's chain (order 0 and its ``nd`` orders, when it has orders) and the match model. With external
experts (``ext[row, j]``, ``E = ext.shape[1] > 0``) the expert stage (:mod:`.experts`) mixes that base mix with
them, and the APM refines the stage's result; without (or with none active), the APM refines the base mix.

Weight sets: ``s1`` from the chain (:func:`~.mix.select_set1`), optionally times the word context's
confidence (unseen / N < 4 / N >= 4) and the longest document row seen; ``s2`` = the previous byte.
After the prediction (:mod:`.mix`, :mod:`.experts`, then :mod:`.apm`), learning ``x = hist[t]`` updates, in
order: the weights (the base's on the base mix, the expert stage's on its own mix), the APM, the learned
escapes (before the counts change: the statistics the prediction used), the match hit rates, the counts,
the document counts and the match index.
"""

from __future__ import annotations

from ..coding.frequencies import quantize_probs
from ..jit import kernel
from ..memory.kernels import INFO_ROW, predict_orders_see, see_learn
from ..memory.kernels.chain import flat_row, predict_orders
from ..memory.kernels.contexts import context_keys
from ..memory.kernels.tables import has_room, lookup_slots, update_counts
from .apm import apm_learn, apm_predict
from .experts import expert_stage_predict, expert_stage_update, n_active
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
    keys, tot, uniq, heads, nbyte, ncnt, nnext = tb.keys, tb.tot, tb.uniq, tb.heads, tb.nbyte, tb.ncnt, tb.nnext
    orders, discount, escape = params.orders, params.discount, params.escape
    W1, W2, mconf, A1, A2, see, U = state.W1, state.W2, state.mconf, state.A1, state.A2, state.see, state.U
    mstate = state.mstate
    chain, X, z, p, pf, lrow, sel, apm_w, see_e, see_idx, xb = scr
    X2, z2, p2, xctx, active = xb
    ctxk, slots, P, info = chain
    dtables, dparams, dsel, dbuf = doc
    dkeys = dtables.keys
    dctxk, dslots, dP, dinfo = dbuf
    no = orders.shape[0]
    nw = ctxk.shape[0] - no
    context_keys(hist, t, orders, ctxk)
    lookup_slots(keys, ctxk, slots)
    predict_orders_see(tb, params, slots, P, X, info, see, see_e, see_idx)
    if mp.indep:
        for i in range(no - 1):
            flat_row(tot, uniq, heads, nbyte, ncnt, nnext, slots[i], discount[i + 1], escape[i + 1], X[i + 1])
    mrow = no + nw + 1
    nd = dsel.shape[0]
    if nd > 0:
        for i in range(nd):
            dctxk[i] = ctxk[dsel[i]]
        lookup_slots(dkeys, dctxk, dslots)
        predict_orders(dtables, dparams, dslots, dP, X[mrow:mrow + nd + 1], dinfo)
        mrow += nd + 1
    sel[SEL_MATCH] = match_row(hist, mstate, mconf, X[mrow])
    s1 = select_set1(info, mstate, mp.select_match)
    if mp.select_word:
        wb = 0
        if nw > 0 and slots[no] >= 0:
            nwc = tot[slots[no]]
            wb = 0 if nwc == 0 else (1 if nwc < 4 else 2)
        s1 = s1 * 3 + wb
    if mp.select_doc and nd > 0:
        s1 = s1 * (nd + 1) + dinfo[INFO_ROW]
    sel[SEL_SET1] = s1
    sel[SEL_PREV] = int(hist[t - 1]) if t > 0 else 256
    sel[SEL_SET2] = sel[SEL_PREV]
    lz = mix_predict(X, W1, sel[SEL_SET1], W2, sel[SEL_SET2], z, p)
    if n_active(active) > 0:
        lz2 = expert_stage_predict(ext, ext_row, z, lz, p, U, X2, z2, p2, xctx, active, mp.expert_ctx)
        apm_predict(A1, A2, p2, z2, lz2, info, sel, apm_w, pf, lrow, mp.apm)
    else:
        apm_predict(A1, A2, p, z, lz, info, sel, apm_w, pf, lrow, mp.apm)


@kernel
def mixer_learn_step(tb, params, mp, state, scr, doc, hist, t):
    """Learn ``hist[t]`` after :func:`mixer_predict_step` at t (module docstring for the order)."""
    W1, W2, mconf, A1, A2, see, U = state.W1, state.W2, state.mconf, state.A1, state.A2, state.see, state.U
    mtab, mstate = state.mtab, state.mstate
    chain, X, p, sel, apm_w, see_e, see_idx = scr.chain, scr.X, scr.p, scr.sel, scr.apm_w, scr.see_e, scr.see_idx
    X2, p2, xctx, active = scr.experts.X, scr.experts.p, scr.experts.ctx, scr.experts.active
    ctxk, slots = chain.ctxk, chain.slots
    dtables, dparams, dsel, dbuf = doc
    dctxk, dslots = dbuf.ctxk, dbuf.slots
    b = int(hist[t])
    mix_update(X, W1, sel[SEL_SET1], W2, sel[SEL_SET2], p, b, mp.lr, mp.lr2)
    if n_active(active) > 0:
        expert_stage_update(U, X2, p2, xctx, active, b, mp.expert_lr)
    apm_learn(A1, A2, sel, apm_w, b, mp.apm_rate)
    if mp.see_rate > 0.0:
        see_learn(tb, params, slots, see, see_e, see_idx, b, mp.see_rate)
    match_learn(mstate, mconf, sel[SEL_MATCH], b)
    update_counts(tb, params, ctxk, slots, b)
    if dsel.shape[0] > 0:
        update_counts(dtables, dparams, dctxk, dslots, b)
    if mp.match_min > 0:
        match_update(hist, t, mtab, mstate, mp.match_min)


@kernel
def tables_have_room(tb, scr, doc):
    """Whether one more position fits both the n-gram tables and the document tables without growing."""
    ctxk = scr.chain.ctxk
    dtables, dctxk = doc.tables, doc.buf.ctxk
    return has_room(tb, ctxk.shape[0]) and has_room(dtables, dctxk.shape[0])


@kernel
def mixer_run(tb, params, mp, state, scr, doc, hist, start, end, learn, ext, ext_off, out, out_off, mode):
    """The mixer over positions [start, end) (predict, then learn when ``learn``). ``mode``: MODE_ROWS, log
    rows into ``out[t - out_off]``; MODE_TARGET, the actual byte's log-prob into ``out[t - out_off, 0]``;
    MODE_FREQS, quantised coding frequencies into ``out[t - out_off]``. ``ext`` rows are ``t - ext_off``.
    Returns the first position not processed (< end when a table must grow first)."""
    lrow, pf = scr.lrow, scr.pf
    for t in range(start, end):
        if learn and not tables_have_room(tb, scr, doc):
            return t
        mixer_predict_step(tb, params, mp, state, scr, doc, hist, t, ext, t - ext_off)
        row = t - out_off
        if mode == MODE_ROWS:
            for c in range(256):
                out[row, c] = lrow[c]
        elif mode == MODE_TARGET:
            out[row, 0] = lrow[int(hist[t])]
        else:
            quantize_probs(pf, out[row])
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
    pf = scr.pf
    quantize_probs(pf, freqs)
    return 0

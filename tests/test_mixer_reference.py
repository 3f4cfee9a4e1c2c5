"""The mixer's step against a readable numpy statement of its maths.

At every position the compiled stream's input rows ``X`` (the memories' log-distributions, checked by
``test_memory_reference.py``) are taken as given; the reference then chooses the weight sets, mixes

    z = (W1[s1] + W2[s2]) @ X,     p = softmax(z)

refines the likeliest byte with the two adaptive probability maps, and after the byte ``x`` updates

    W[s] += rate * (X[:, x] - X @ p)      (rate decaying with the set's update count)
    A[ctx, j] += apm_rate * (1 - w) * (y - A[ctx, j]),   A[ctx, j + 1] += apm_rate * w * (y - A[ctx, j + 1])

on its own copies of the weights and maps. Distributions and the final learned arrays must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from decepticons.data import embedded_corpus
from decepticons.jit import numba_available
from decepticons.memory.kernels import INFO_N, INFO_ROW, INFO_U
from decepticons.mixer import MixerPredictor
from decepticons.mixer.state import MATCH_LEN, SEL_MATCH, SEL_SET1, SEL_SET2

TRAIN, VALID = embedded_corpus()
N_BYTES = 3000 if numba_available() else 300


def weight_set1(info: np.ndarray, match_len: int, word_count: int | None, doc_row: int, n_doc: int,
                cfg) -> int:
    """First weight set: highest seen row, a bucket of its count, whether it was deterministic, then
    (optionally) the match state, the word context's confidence and the longest document row seen."""
    n = info[INFO_N]
    bucket = 0 if n <= 1 else 1 if n <= 3 else 2 if n <= 15 else 3
    s = (info[INFO_ROW] * 4 + bucket) * 2 + int(info[INFO_U] == 1)
    if cfg.select_match:
        s = s * 3 + (0 if match_len <= 0 else 1 if match_len < 16 else 2)
    if cfg.select_word:
        wb = 0 if not word_count else 1 if word_count < 4 else 2
        s = s * 3 + wb
    if cfg.select_doc and n_doc:
        s = s * (n_doc + 1) + doc_row
    return s


def mix(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    z = w @ X
    e = np.exp(z - z.max())
    return e / e.sum()


def apm_cell(q: float) -> tuple[int, float]:
    """Cell j and interpolation weight w of the stretch ``ln(q / (1 - q))`` over 32 cells of [-8, 8]."""
    qc = min(max(q, 1e-6), 1.0 - 1e-6)
    s = min(max(np.log(qc / (1.0 - qc)), -7.999), 7.999)
    pos = (s + 8.0) * 2.0
    j = int(pos)
    return j, pos - j


def apm_refine(p: np.ndarray, A1: np.ndarray, A2: np.ndarray, c1: int, c2: int) -> tuple[np.ndarray, tuple]:
    best = int(np.argmax(p))
    q = p[best]
    rest = p.sum() - q
    j, w = apm_cell(q)
    a1 = A1[c1, j] * (1 - w) + A1[c1, j + 1] * w
    a2 = A2[c2, j] * (1 - w) + A2[c2, j + 1] * w
    qf = min(max(0.5 * q + 0.25 * a1 + 0.25 * a2, 1e-7), 1.0 - 1e-7)
    pf = p * ((1.0 - qf) / rest)
    pf[best] = qf
    return pf, (best, j, w)


def apm_update(A: np.ndarray, ctx: int, j: int, w: float, y: float, rate: float) -> None:
    A[ctx, j] += rate * (1 - w) * (y - A[ctx, j])
    A[ctx, j + 1] += rate * w * (y - A[ctx, j + 1])


def weight_update(W: np.ndarray, s: int, g: np.ndarray, lr: float) -> None:
    n_in = len(g)
    rate = lr * (1.0 + 4096.0 / (1024.0 + W[s, n_in]))
    W[s, n_in] += 1.0
    W[s, :n_in] += rate * g


CONFIGS = {
    "default": {},
    "indep-doc-sets-no-apm": {"orders": 4, "indep": True, "select_doc": True, "select_word": False,
                              "apm_rate": 0.0, "word": 2, "match_min": 5},
    "no-match-no-word": {"orders": [1, 2, 4], "match_min": 0, "word": 0, "select_match": False,
                         "select_word": False, "apm_rate": 0.05},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_mixer_step_matches_a_numpy_reference(name):
    model = MixerPredictor(**CONFIGS[name])
    model.fit(TRAIN[:20000])
    cfg = model.config
    n_in = model.n_inputs
    no = len(model.orders)
    W1, W2, A1, A2 = (a.copy() for a in (model.W1, model.W2, model.A1, model.A2))
    st = model.stream()
    work = st.work
    x = VALID[:N_BYTES]
    worst = 0.0
    for t, byte in enumerate(x):
        probs = np.exp(st.log_probs())
        scr = work.scratch
        X = scr.X.copy()
        info = scr.chain.info
        slots = scr.chain.slots
        word_count = int(work.tables.tot[slots[no]]) if model.word and slots[no] >= 0 else None
        s1 = weight_set1(info, int(work.state.mstate[MATCH_LEN]), word_count, int(work.doc_buf.info[INFO_ROW]),
                         len(model.doc_orders), cfg)
        s2 = int(x[t - 1]) if t > 0 else 256
        assert (s1, s2) == (scr.sel[SEL_SET1], scr.sel[SEL_SET2])
        p = mix(X, W1[s1, :n_in] + W2[s2, :n_in])
        pf = p
        if cfg.apm_rate > 0:
            best = int(np.argmax(p))
            c1 = info[INFO_ROW] * 2 + int(scr.sel[SEL_MATCH] == best)
            pf, (best, j, w) = apm_refine(p, A1, A2, c1, s2)
        worst = max(worst, float(np.abs(pf - probs).max()))
        # learn the byte: weights on the mix before the APM, then the maps
        g = X[:, byte] - X @ p
        weight_update(W1, s1, g, cfg.lr)
        weight_update(W2, s2, g, cfg.lr2)
        if cfg.apm_rate > 0:
            y = 1.0 if byte == best else 0.0
            apm_update(A1, c1, j, w, y, cfg.apm_rate)
            apm_update(A2, s2, j, w, y, cfg.apm_rate)
        st.push(int(byte))
    st.log_probs()  # the stream learns the last byte on its next call
    assert worst < 1e-9
    state = work.state
    for ref, got in ((W1, state.W1), (W2, state.W2), (A1, state.A1), (A2, state.A2)):
        assert np.allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert not np.array_equal(state.W1, model.W1)  # it did learn while scoring

"""The count memories against a readable statement of their maths.

The reference below keeps plain Python dictionaries of counts (context bytes -> follower byte -> count),
applies the update rules (update exclusion, halving beyond ``max_total``) and the escape chain

    p_r(c) = max(n(c) - d_r, 0) / (N + b_r) + (d_r u + b_r) / (N + b_r) * p_{r-1}(c),    p_{-1} = 1/256

(an unseen context leaves p_r = p_{r-1}) with numpy, and is compared with the compiled memories on a few KB
of text: every order's probability of the actual byte, and the whole top distribution. The two n-gram
engines of the package (the memories' hash tables and the coder's sorted count view,
``decepticons.coder.context_counts``) are cross-checked where they must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from decepticons.coder.context_counts import ContextCounts, ContextSmoother, SmoothedOrder, context_hashes, event_keys
from decepticons.data import embedded_corpus
from decepticons.jit import get_kernels
from decepticons.memory import BackoffPredictor, ExactContextPredictor, NGramPredictor, OnlineNGramPredictor

TRAIN, VALID = embedded_corpus()
FIT = TRAIN[:3000]
SCORE = VALID[:1500]


class DictCounts:
    """Counts of the bytes that followed each context of every order, as dictionaries."""

    def __init__(self, orders: list[int], exclusion: bool, max_total: int) -> None:
        self.orders = orders
        self.exclusion = exclusion
        self.max_total = max_total
        self.order0: dict[int, int] = {}
        self.tables: list[dict[bytes, dict[int, int]]] = [{} for _ in orders]

    def contexts(self, hist: bytes) -> list[bytes | None]:
        """The context of each order at the end of ``hist`` (None when ``hist`` is shorter)."""
        return [hist[len(hist) - k:] if len(hist) >= k else None for k in self.orders]

    def distributions(self, hist: bytes, discount: np.ndarray, escape: np.ndarray) -> list[np.ndarray]:
        """``[p_0, p_1, ...]`` (each float64[256]) after ``hist`` by the escape chain."""
        rows = []
        p = np.full(256, 1.0 / 256.0)
        counts = [self.order0] + [t.get(c, {}) if c is not None else {} for t, c in
                                  zip(self.tables, self.contexts(hist))]
        for r, follow in enumerate(counts):
            n_tot = sum(follow.values())
            if n_tot > 0:
                d, b = discount[r], escape[r]
                q = np.zeros(256)
                for c, n in follow.items():
                    q[c] = max(n - d, 0.0) / (n_tot + b)
                p = q + (d * len(follow) + b) / (n_tot + b) * p
            rows.append(p)
        return rows

    def count(self, hist: bytes, byte: int) -> None:
        """Count ``byte`` after ``hist``: with update exclusion only the orders at and above the highest one
        that had already seen ``byte`` (and order 0 only when none had)."""
        ctxs = self.contexts(hist)
        lo = 0
        if self.exclusion:
            for i in range(len(ctxs) - 1, -1, -1):
                c = ctxs[i]
                if c is not None and byte in self.tables[i].get(c, {}):
                    lo = i + 1
                    break
        if lo == 0:
            self.order0[byte] = self.order0.get(byte, 0) + 1
        for i in range(max(lo - 1, 0), len(ctxs)):
            c = ctxs[i]
            if c is None:
                continue
            follow = self.tables[i].setdefault(c, {})
            follow[byte] = follow.get(byte, 0) + 1
            if sum(follow.values()) > self.max_total:
                for k in follow:
                    follow[k] = (follow[k] + 1) // 2


def reference_run(model, fit: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order_probs[T, n_orders + 1], top log-probabilities[T, 256])`` of the reference, fitted on ``fit``
    and scoring ``score`` prequentially (counting each byte after predicting it when the model is online)."""
    ref = DictCounts(list(model.orders), model.exclusion, model.max_total)
    data = bytes(fit)
    for t in range(len(data)):
        ref.count(data[:t], data[t])
    x = bytes(score)
    rec = np.zeros((len(x), len(model.orders) + 1))
    top = np.zeros((len(x), 256))
    for t in range(len(x)):
        rows = ref.distributions(x[:t], model.discount, model.escape)
        rec[t] = [row[x[t]] for row in rows]
        top[t] = np.log(rows[-1])
        if model.online:
            ref.count(x[:t], x[t])
    return rec, top


CASES = {
    "ngram": lambda: NGramPredictor(orders=4),
    "ngram-long-orders": lambda: NGramPredictor(orders=[1, 2, 3, 5, 8], discount=[0.6, 0.7, 0.75, 0.8, 0.85, 0.9],
                                                escape=[0.5, 0.4, 0.3, 0.2, 0.1, 0.0]),
    "ngram-no-exclusion": lambda: NGramPredictor(orders=3, exclusion=False, discount=0.0, escape=1.0),
    "frozen": lambda: NGramPredictor(orders=3, online=False),
    "online-halving": lambda: OnlineNGramPredictor(orders=3, max_total=8),
    "exact-context": lambda: ExactContextPredictor(order=2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_count_memories_follow_the_escape_chain(name):
    model = CASES[name]()
    model.fit(FIT)
    rec_ref, top_ref = reference_run(model, FIT, SCORE)
    rec = model.records(SCORE)
    assert np.allclose(rec["order_probs"], rec_ref, rtol=1e-10, atol=1e-14)
    assert np.allclose(model.log_probs(SCORE), top_ref, rtol=0, atol=1e-12)
    # unseen contexts were exercised: positions where the top order had never seen its context
    assert np.any(rec["order_used"] < max(model.orders))


def test_exact_context_is_the_one_order_ngram():
    exact = ExactContextPredictor(order=3, discount=0.6, escape=0.2)
    ngram = NGramPredictor(orders=[3], discount=0.6, escape=0.2, exclusion=False)
    for m in (exact, ngram):
        m.fit(FIT)
    assert np.array_equal(exact.log_probs(SCORE), ngram.log_probs(SCORE))


def test_backoff_with_all_weight_on_the_longest_seen_order_is_the_ngram():
    """The backoff mixture with ``lam`` = identity picks ``p_s`` (s: the longest seen order), which is the
    n-gram's top row: the orders above s leave the chain unchanged. Both count the same bytes."""
    backoff = BackoffPredictor(orders=4)
    ngram = NGramPredictor(orders=4)
    backoff.fit(FIT)
    ngram.fit(FIT)
    assert backoff.tables.n_contexts == ngram.tables.n_contexts
    backoff.lam = np.eye(len(backoff.orders) + 1)
    assert np.allclose(backoff.log_probs(SCORE), ngram.log_probs(SCORE), rtol=0, atol=1e-12)


K = 4
def _memory_count(model: NGramPredictor, x: np.ndarray, t: int, i: int) -> int:
    """``n(context of order orders[i] at t, x[t])`` read from the memory's hash table."""
    k = get_kernels(model.use_numba)
    tb = model.tables
    ctxk = np.zeros(len(model.orders), dtype=np.int64)
    slots = np.zeros(len(model.orders), dtype=np.int64)
    k.context_keys(x, t, model.params.orders, ctxk)
    k.lookup_slots(tb.keys, ctxk, slots)
    node = tb.heads[slots[i]] if slots[i] >= 0 else -1
    while node >= 0:
        if tb.nbyte[node] == x[t]:
            return int(tb.ncnt[node])
        node = tb.nnext[node]
    return 0


def test_both_engines_count_order0_alike():
    model = NGramPredictor(orders=1, exclusion=False, online=False)
    model.fit(FIT)
    order0 = ContextCounts.from_data(FIT, 1).tables[0]
    c0 = model.tables.c0
    assert np.array_equal(order0.keys.astype(np.int64) & 0xFF, np.flatnonzero(c0))
    assert np.array_equal(order0.counts, c0[c0 > 0])


def test_both_engines_count_the_same_events():
    """Without update exclusion or halving, the count of every (context, next byte) event of the training
    text is the same in the memory's hash table and in the count view's sorted event table."""
    model = NGramPredictor(orders=K, exclusion=False, online=False)
    model.fit(FIT)
    view = ContextCounts.from_data(FIT, K)
    hashes = context_hashes(FIT, K)
    for k in range(1, K + 1):
        table = view.tables[k]
        ev = event_keys(hashes[k], FIT)
        j = np.searchsorted(table.keys, ev)
        assert np.array_equal(table.keys[j], ev)
        for t in range(k, len(FIT), 7):
            assert table.counts[j[t]] == _memory_count(model, FIT, t, k - 1), (k, t)


def test_both_engines_predict_alike_with_raw_counts():
    """The count view's interpolated smoother over raw counts (escape b_k = the memories' escape) and a uniform
    base is the memory's escape chain: same distributions wherever every context is made of real bytes."""
    discount = np.array([0.5, 0.6, 0.7, 0.75, 0.8])
    escape = np.array([0.4, 0.3, 0.3, 0.2, 0.1])
    model = NGramPredictor(orders=K, discount=discount.tolist(), escape=escape.tolist(), exclusion=False,
                           online=False)
    model.fit(FIT)
    view = ContextCounts.from_data(FIT, K)
    smoother = ContextSmoother([SmoothedOrder.build(t.keys, t.counts.astype(np.float64)) for t in view.tables],
                               discount, escape)
    p = smoother.probs(context_hashes(SCORE, K), np.full((len(SCORE), 256), 1.0 / 256.0))
    lp = model.log_probs(SCORE)
    assert np.allclose(np.log(p[K:]), lp[K:], rtol=0, atol=1e-12)

"""Slow references for the coder's maths, written from the definitions with plain Python containers.

- the count view's interpolated Pitman-Yor / Kneser-Ney chain (``coder/context_counts.py``) against the same
  rule computed from dictionary counts of contexts and continuation counts;
- the ridge readout's eigen-solve (``coder/ridge.py``) against ``np.linalg.solve`` on the accumulated
  statistics, and chunked / sharded accumulation against one pass.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from decepticons.coder.context_counts import ContextCounts, ContextSmoother, context_hashes
from decepticons.coder.ridge import RidgeSolver, RidgeStats

START = -1  # a position before the text: distinct from every byte


def _context(x: list[int], t: int, k: int) -> tuple[int, ...]:
    """The k bytes before position t, most recent first; positions before 0 read as START."""
    return tuple(x[t - j] if t - j >= 0 else START for j in range(1, k + 1))


def reference_chain(train: list[int], query: list[int], history_for_query: list[int], max_order: int,
                    discounts: np.ndarray, escapes: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``p_K(y | ctx)`` for every query position, from dictionary counts.

    Top order: raw counts ``c_K(ctx, y)``. Order k < K: continuation counts
    ``c_k(ctx, y) = |{b : c_{k+1}((ctx, b), y) > 0}|`` (distinct one-byte-longer contexts followed by y).
    ``p_k(y) = (max(c_k(y) - d_k, 0) + (b_k + d_k u_k) p_{k-1}(y)) / (n_k + b_k)`` when n_k > 0.
    """
    raw: list[dict[tuple[int, ...], dict[int, int]]] = [defaultdict(lambda: defaultdict(int))
                                                       for _ in range(max_order + 1)]
    for t, y in enumerate(train):
        for k in range(max_order + 1):
            raw[k][_context(train, t, k)][y] += 1
    tables: list[dict[tuple[int, ...], dict[int, int]]] = []
    for k in range(max_order + 1):
        if k == max_order:
            tables.append({c: dict(f) for c, f in raw[k].items()})
            continue
        cont: dict[tuple[int, ...], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for longer, followers in raw[k + 1].items():
            for y in followers:
                cont[longer[:k]][y] += 1
        tables.append({c: dict(f) for c, f in cont.items()})
    full = history_for_query + query
    off = len(history_for_query)
    out = np.empty((len(query), 256))
    for i in range(len(query)):
        p = base[i].copy()
        for k in range(max_order + 1):
            followers = tables[k].get(_context(full, off + i, k))
            if not followers:
                continue
            n = sum(followers.values())
            u = len(followers)
            d, th = discounts[k], escapes[k]
            c = np.zeros(256)
            for y, v in followers.items():
                c[y] = v
            p = (np.maximum(c - d, 0.0) + (th + d * u) * p) / (n + th)
        out[i] = p
    return out


@pytest.mark.parametrize("max_order", [0, 1, 3])
def test_kneser_ney_chain_matches_dictionary_reference(max_order):
    rng = np.random.default_rng(max_order)
    text = (b"the cat sat on the mat. the dog sat on the log. " * 20 + bytes(rng.integers(97, 105, 300))).decode()
    train = np.frombuffer(text.encode(), np.uint8)
    query = np.frombuffer(b"the cat sat on a log; the mat sat. zq", np.uint8)
    discounts = rng.uniform(0.1, 0.9, max_order + 1)
    escapes = rng.uniform(0.0, 2.0, max_order + 1)
    base = rng.dirichlet(np.ones(256), size=len(query))
    counts = ContextCounts.from_data(train, max_order)
    smoother = ContextSmoother(counts.smoother_tables(), discounts, escapes)
    # the query follows the training text (its first contexts reach back into it)
    hashes = context_hashes(query, max_order, history=train)
    fast = smoother.probs(hashes, base)
    ref = reference_chain(train.tolist(), query.tolist(), train.tolist(), max_order, discounts, escapes, base)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.sum(1), 1.0, atol=1e-12)
    # the target-only path gives the same probability of the actual byte
    tp = smoother.target_probs(hashes, query, base[np.arange(len(query)), query])
    np.testing.assert_allclose(tp, ref[np.arange(len(query)), query], rtol=0, atol=1e-12)


def test_kneser_ney_chain_at_the_start_of_a_text():
    """Positions before the start read as a marker distinct from every byte (no history given)."""
    train = np.frombuffer(b"abracadabra abracadabra", np.uint8)
    query = np.frombuffer(b"abrac", np.uint8)
    d, th = np.array([0.5, 0.6, 0.7]), np.array([0.3, 0.2, 0.1])
    base = np.full((len(query), 256), 1 / 256)
    sm = ContextSmoother(ContextCounts.from_data(train, 2).smoother_tables(), d, th)
    fast = sm.probs(context_hashes(query, 2), base)
    ref = reference_chain(train.tolist(), query.tolist(), [], 2, d, th, base)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)


def test_shard_counts_merge_to_the_one_pass_counts():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 2000).astype(np.uint8)
    whole = ContextCounts.from_data(x, 3)
    parts = [ContextCounts.from_data(x[:700], 3), ContextCounts.from_data(x[700:], 3, history=x[:700])]
    merged = ContextCounts.merge(parts)
    for a, b in zip(whole.tables, merged.tables):
        np.testing.assert_array_equal(a.keys, b.keys)
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_array_equal(a.parents, b.parents)


def _stats_reference(F: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Fb = np.concatenate([F, np.ones((len(F), 1))], axis=1)
    Y = np.zeros((len(y), 256))
    Y[np.arange(len(y)), y] = 1.0
    return Fb.T @ Fb, Fb.T @ Y


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0])
def test_ridge_solve_matches_linalg_solve(lam):
    """``W(lam) = (A + lam * diag(A))^{-1} B`` on the mean statistics (relative penalty, bias included)."""
    rng = np.random.default_rng(0)
    F = rng.standard_normal((3000, 12)) * rng.uniform(0.1, 5.0, 12)
    y = rng.integers(0, 256, 3000)
    stats = RidgeStats.zeros(12)
    for lo in range(0, 3000, 512):                      # accumulated in chunks
        stats.add(F[lo:lo + 512], y[lo:lo + 512])
    A, B = _stats_reference(F, y)
    np.testing.assert_allclose(stats.A, A, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(stats.B, B, rtol=1e-12, atol=1e-9)
    n = len(y)
    ref = np.linalg.solve(A / n + lam * np.diag(np.maximum(np.diag(A / n), 1e-12)), B / n)
    np.testing.assert_allclose(RidgeSolver(stats).solve(lam), ref, rtol=1e-7, atol=1e-10)


def test_ridge_statistics_are_additive_across_shards():
    rng = np.random.default_rng(1)
    F, y = rng.standard_normal((500, 5)), rng.integers(0, 256, 500)
    a, b, whole = RidgeStats.zeros(5), RidgeStats.zeros(5), RidgeStats.zeros(5)
    a.add(F[:200], y[:200])
    b.add(F[200:], y[200:])
    whole.add(F, y)
    s = a + b
    np.testing.assert_allclose(s.A, whole.A, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(s.B, whole.B, rtol=1e-12, atol=1e-10)
    assert s.n == whole.n == 500

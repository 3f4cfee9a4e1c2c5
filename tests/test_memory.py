"""Count memories: causality with online updates, log_probs/stream parity, reference/numba parity,
persistence, adaptation, cache views and the ngram CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decepticons.cli import main
from decepticons.errors import InputError
from decepticons.jit import numba_available
from decepticons.memory import (
    BackoffPredictor,
    ExactContextPredictor,
    NGramPredictor,
    OnlineNGramPredictor,
    build_cache_view,
)
from decepticons.memory.count_tables import CountTables

TEXT = (b"It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        b"must be in want of a wife. However little known the feelings or views of such a man may be "
        b"on his first entering a neighbourhood, this truth is so well fixed in the minds of the "
        b"surrounding families, that he is considered the rightful property of some one or other.\n") * 3
TRAIN = np.frombuffer(TEXT[:700], dtype=np.uint8)
TEST = np.frombuffer(TEXT[700:1000], dtype=np.uint8)

MEMORIES = {
    "ngram": lambda **kw: NGramPredictor(orders=4, **kw),
    "ngram-noexcl": lambda **kw: NGramPredictor(orders=[1, 3, 7], exclusion=False, max_total=6, **kw),
    "exact": lambda **kw: ExactContextPredictor(order=2, **kw),
    "backoff": lambda **kw: BackoffPredictor(orders=3, **kw),
    "online": lambda **kw: OnlineNGramPredictor(orders=3, max_total=8, **kw),
    "online-unprimed": lambda **kw: OnlineNGramPredictor(orders=3, prime=False, **kw),
}


@pytest.fixture(scope="module", params=sorted(MEMORIES))
def fitted(request):
    m = MEMORIES[request.param]()
    m.fit(TRAIN)
    return m


@pytest.mark.skipif(not numba_available(), reason="numba not installed")
@pytest.mark.parametrize("name", sorted(MEMORIES))
def test_reference_path_matches_numba(name):
    fast = MEMORIES[name](use_numba=True)
    ref = MEMORIES[name](use_numba=False)
    a = fast.fit(TRAIN[:300]).train_bits_per_byte
    b = ref.fit(TRAIN[:300]).train_bits_per_byte
    assert a == b
    assert np.array_equal(fast.log_probs(TEST[:80]), ref.log_probs(TEST[:80]))


def test_online_updates_help_on_repeated_text():
    on = NGramPredictor(orders=4, online=True)
    off = NGramPredictor(orders=4, online=False)
    on.fit(TRAIN[:100])
    off.fit(TRAIN[:100])
    x = np.frombuffer(TEXT[:400] * 2, dtype=np.uint8)
    r_on, r_off = on.score(x), off.score(x)
    assert r_on.adaptive and not r_off.adaptive
    assert r_on.bits_per_byte < 0.7 * r_off.bits_per_byte


def test_smoothing_recursion_matches_a_direct_count():
    """Order-1 prediction after fitting equals the formula computed by hand from the counts."""
    data = b"abacabad"
    m = NGramPredictor(orders=1, discount=0.5, escape=0.25, exclusion=False, online=False)
    m.fit(data)
    p = np.exp(m.log_probs(b"a" + b"?")[1])  # row 1: context "a"
    counts0 = {c: data.count(bytes([c])) for c in set(data)}
    n0, u0 = len(data), len(counts0)
    p0 = np.full(256, (0.5 * u0 + 0.25) / (n0 + 0.25) / 256)
    for c, n in counts0.items():
        p0[c] += (n - 0.5) / (n0 + 0.25)
    follow = {}
    for a, b in zip(data[:-1], data[1:]):
        if a == ord("a"):
            follow[b] = follow.get(b, 0) + 1
    n1, u1 = sum(follow.values()), len(follow)
    expect = (0.5 * u1 + 0.25) / (n1 + 0.25) * p0
    for c, n in follow.items():
        expect[c] += (n - 0.5) / (n1 + 0.25)
    assert np.allclose(p, expect, atol=1e-14)


def test_table_growth_preserves_predictions():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 8, size=6000, dtype=np.uint8)  # many distinct contexts: forces several rehashes
    m = NGramPredictor(orders=[2, 5, 9])
    m.fit(x[:3000])
    assert m.tables.n_contexts > CountTables().keys.shape[0]
    lp = m.log_probs(x[3000:3400])
    st = m.stream()
    for t, b in enumerate(x[3000:3400]):
        assert np.array_equal(st.log_probs(), lp[t])
        st.push(int(b))


@pytest.mark.parametrize("use_numba", [False, True] if numba_available() else [False])
def test_compaction_keeps_lists_and_makes_them_contiguous(use_numba):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 6, size=3000, dtype=np.uint8)
    m = NGramPredictor(orders=[1, 3, 5], use_numba=use_numba)
    m.tables = CountTables(cap=16, nodes=16)
    m._learn(m.tables, x[:2000], np.zeros(2000))  # grows (and compacts) many times, not compacted at the end
    tb = m.tables

    def lists(t):
        out = {}
        for s in np.flatnonzero(t.keys):
            node, items = t.heads[s], []
            while node >= 0:
                items.append((int(t.nbyte[node]), int(t.ncnt[node])))
                node = t.nnext[node]
            out[int(t.keys[s])] = items
        return out

    # scatter the pool first (reverse node order), so compaction has work to do
    n = tb.n_nodes
    perm = np.arange(n)[::-1]
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    nb, nc, nn = tb.nbyte.copy(), tb.ncnt.copy(), tb.nnext.copy()
    nb[:n], nc[:n] = tb.nbyte[perm], tb.ncnt[perm]
    nn[:n] = np.where(tb.nnext[perm] >= 0, inv[np.maximum(tb.nnext[perm], 0)], -1)
    tb.nbyte, tb.ncnt, tb.nnext = nb, nc, nn
    tb.heads[:] = np.where(tb.heads >= 0, inv[np.maximum(tb.heads, 0)], -1)
    before, lp = lists(tb), m.log_probs(x[2000:])
    assert not all(tb.nnext[tb.heads[s]] in (-1, tb.heads[s] + 1) for s in np.flatnonzero(tb.heads >= 0))
    tb.compact(use_numba)
    assert lists(tb) == before
    for s in np.flatnonzero(tb.heads >= 0):  # every list occupies consecutive nodes
        node = tb.heads[s]
        while tb.nnext[node] >= 0:
            assert tb.nnext[node] == node + 1
            node = tb.nnext[node]
    assert np.array_equal(m.log_probs(x[2000:]), lp)


def test_backoff_weights_are_a_prefix_time_mixture():
    m = BackoffPredictor(orders=3)
    m.fit(TEXT)
    lam = m.lam
    assert np.allclose(lam.sum(axis=1), 1.0)
    assert np.all(np.triu(lam, 1) == 0) and np.all(lam >= 0)


def test_exact_context_uses_one_order():
    m = ExactContextPredictor(order=3)
    assert m.orders == [3] and m.config_dict()["order"] == 3
    m.fit(TRAIN)
    rec = m.records(TEST)
    assert set(np.unique(rec["order_used"])) <= {0, 3}


def test_cache_view_records(fitted):
    view = build_cache_view({"m": fitted}, TEST)
    rec = view["m"]
    lp = fitted.log_probs(TEST)
    assert np.allclose(rec.prob, np.exp(lp[np.arange(len(TEST)), TEST]))
    assert np.array_equal(rec.predicted, np.argmax(lp, axis=1))
    assert np.allclose(rec.top1, np.exp(lp.max(axis=1)))
    assert rec.order_used is not None and rec.order_used.max() <= max(fitted.orders)
    assert np.all(rec.count[rec.order_used > 0] > 0)
    assert rec.order_probs.shape == (len(TEST), len(fitted.orders) + 1)
    # the top order's probability is the prediction itself (not for the backoff mixture)
    if not isinstance(fitted, BackoffPredictor):
        assert np.allclose(rec.order_probs[:, -1], rec.prob)
    assert view.to_dict()["memories"][0]["bits_per_byte"] == pytest.approx(fitted.score(TEST).bits_per_byte)


def test_bad_configuration_is_an_input_error():
    with pytest.raises(InputError):
        NGramPredictor(orders=[3, 2])
    with pytest.raises(InputError, match="list of ints"):
        NGramPredictor(orders="abc")
    with pytest.raises(InputError, match="list of ints"):
        NGramPredictor(orders="123")  # a string is not a list of orders
    with pytest.raises(InputError):
        NGramPredictor(orders=0)
    with pytest.raises(InputError):
        NGramPredictor(discount=1.5)
    with pytest.raises(InputError):
        NGramPredictor(orders=2, discount=[0.5, 0.5])
    with pytest.raises(InputError):
        NGramPredictor().fit(b"")
    with pytest.raises(InputError):
        NGramPredictor().stream().push(300)


def test_cli_fit_and_score_ngram(tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_bytes(TEXT[:700])
    test = tmp_path / "test.txt"
    test.write_bytes(TEXT[700:])
    model = tmp_path / "ng.safetensors"
    assert main(["fit", "--model", "ngram", "--config", "orders=3", "--input", str(train), "--valid", str(test),
                 "--save", str(model), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["fit"]["valid_bits_per_byte"] < 8 and fit["saved"]["path"] == str(model)
    assert main(["score", "--load", str(model), "--input", str(test), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)["score"]
    assert score["adaptive"] is True
    assert score["bits_per_byte"] == pytest.approx(fit["fit"]["valid_bits_per_byte"])
    assert main(["score", "--load", str(model), "--input", str(test)]) == 0
    assert "adaptive       on" in capsys.readouterr().out


def test_tables_with_inconsistent_sizes_are_refused():
    m = NGramPredictor(orders=3)
    m.fit(TRAIN)
    good = m.tables.tensors()
    assert CountTables.from_tensors(good).n_nodes == m.tables.n_nodes
    for field, index, value in (("uniq", 0, 10**8), ("meta", 1, 3), ("meta", 0, 5)):
        bad = {k: v.copy() for k, v in good.items()}
        bad[field][index] = value
        with pytest.raises(ValueError, match="inconsistent|expected"):
            CountTables.from_tensors(bad)


@pytest.mark.parametrize("online", [False, True])
def test_loaded_tables_predict_as_the_fitted_ones_and_store_the_same_tensors(tmp_path, online):
    """The file layout (content in key order) rebuilds a table that predicts the same bits, keeps learning
    the same way, and writes identical tensors again (so fingerprints survive a save/load)."""
    m = NGramPredictor(orders=[1, 2, 4], online=online)
    m.fit(TRAIN)
    t = m.tables.tensors()
    loaded = CountTables.from_tensors(t)
    for k, v in loaded.tensors().items():
        np.testing.assert_array_equal(v, t[k])
    m.save(tmp_path / "m.safetensors")
    twin = NGramPredictor.load(tmp_path / "m.safetensors")
    assert twin.fingerprint() == m.fingerprint()
    text = np.frombuffer(TEXT[::-1][:500], dtype=np.uint8)
    np.testing.assert_array_equal(twin.log_probs(text), m.log_probs(text))
    assert twin.score(text).total_bits == m.score(text).total_bits
    assert sum(v.nbytes for v in t.values()) < m.tables.nbytes()


def test_fit_starts_from_scratch_and_partial_fit_continues():
    from decepticons.errors import InputError
    from decepticons.registry import model_class

    a = np.frombuffer(b"the cat sat on the mat. " * 40, dtype=np.uint8)
    b = np.frombuffer(b"a dog ran in the fog! " * 40, dtype=np.uint8)
    for kind in ("ngram", "exact-context", "online-ngram", "backoff"):
        m, fresh = model_class(kind)(), model_class(kind)()
        m.fit(a)
        m.fit(b)
        fresh.fit(b)
        assert m.fingerprint() == fresh.fingerprint(), kind  # fit drops what an earlier fit learned
    m = model_class("ngram")()
    m.fit(a)
    m.partial_fit(b)
    two = model_class("ngram")()
    two.partial_fit(a)
    two.partial_fit(b)
    assert m.fingerprint() == two.fingerprint()
    fresh = model_class("ngram")()
    fresh.fit(b)
    assert m.fingerprint() != fresh.fingerprint()
    assert m.score(a).bits_per_byte < fresh.score(a).bits_per_byte  # it still knows a
    with pytest.raises(InputError, match="cannot continue"):
        model_class("backoff")().partial_fit(a)
    with pytest.raises(InputError, match="empty"):
        m.fit(b"")
    assert m.fingerprint() == two.fingerprint()  # a refused fit leaves the model as it was

"""The contract's derived helpers (score, generate, sampling, RecomputeStream) against an exact order-1 table."""

from __future__ import annotations

import numpy as np
import pytest

from _reference import TablePredictor, reference_bits, reference_greedy
from decepticons import InputError, generate, score
from decepticons.predictor import (
    LN2,
    CausalPredictor,
    RecomputeStream,
    Stream,
    log_softmax,
    sample_from_log_probs,
)

DATA = b"the quick brown fox jumps over the lazy dog; \xc3\xa9t\xc3\xa9 \x00\xff the end\n" * 3


class RecomputeTable(TablePredictor):
    """The same table, but its stream is the O(T^2) reference that re-runs ``log_probs``."""

    def stream(self) -> Stream:
        return RecomputeStream(self)


class ChunkedTable(TablePredictor):
    """Overrides ``iter_log_probs`` to yield blocks, carrying the previous byte across block edges."""

    def iter_log_probs(self, data, chunk_size=1 << 16):
        x = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        for s in range(0, len(x), chunk_size):
            block = np.empty((min(chunk_size, len(x) - s), 256))
            block[0] = self.start if s == 0 else self.table[x[s - 1]]
            block[1:] = self.table[x[s:s + len(block) - 1]]
            yield block


class ShortTable(TablePredictor):
    """A broken model whose ``iter_log_probs`` loses the last row."""

    def iter_log_probs(self, data, chunk_size=1 << 16):
        yield self.log_probs(data)[:-1]


@pytest.fixture(scope="module")
def model() -> TablePredictor:
    return TablePredictor(seed=1)


# ------------------------------------------------------------------------------------------ reference itself
def test_reference_rows_are_distributions(model):
    lp = model.log_probs(DATA)
    assert lp.shape == (len(DATA), 256) and lp.dtype == np.float64
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, rtol=1e-12)


# ------------------------------------------------------------------------------------------ score
def test_score_matches_a_hand_computed_code_length(model):
    rep = score(model, DATA, trace=True)
    expected = reference_bits(model, DATA)
    assert rep.bytes == len(DATA)
    assert rep.model == model.name
    assert rep.total_bits == pytest.approx(expected.sum(), rel=1e-12)
    assert rep.bits_per_byte == pytest.approx(expected.mean(), rel=1e-12)
    np.testing.assert_allclose(rep.trace, expected, rtol=1e-12)
    assert rep.adaptive is False
    assert rep.seconds >= 0


def test_score_method_equals_function(model):
    assert model.score(DATA).total_bits == score(model, DATA).total_bits
    assert model.score(DATA).trace is None


def test_score_accepts_text_and_arrays(model):
    text = DATA.decode("utf-8", errors="replace")
    raw = text.encode("utf-8")
    assert score(model, text).total_bits == pytest.approx(reference_bits(model, raw).sum(), rel=1e-12)
    arr = np.frombuffer(DATA, dtype=np.uint8)
    assert score(model, arr).total_bits == score(model, DATA).total_bits


def test_score_report_dict(model):
    d = score(model, DATA).to_dict()
    assert d["bytes"] == len(DATA)
    assert d["bits_per_byte"] == pytest.approx(d["total_bits"] / len(DATA))
    assert "trace" not in d


@pytest.mark.parametrize("empty", [b"", "", np.zeros(0, dtype=np.uint8)])
def test_score_empty_input_is_an_input_error(model, empty):
    with pytest.raises(InputError, match="empty"):
        score(model, empty)


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_chunked_iter_log_probs_gives_the_same_score(chunk):
    plain, chunked = TablePredictor(seed=3), ChunkedTable(seed=3)
    x = np.frombuffer(DATA * 5, dtype=np.uint8)
    np.testing.assert_array_equal(chunked.target_log_probs(x, chunk_size=chunk), plain.target_log_probs(x))


def test_iter_log_probs_default_is_one_block(model):
    blocks = list(model.iter_log_probs(DATA, chunk_size=4))
    assert len(blocks) == 1
    np.testing.assert_array_equal(blocks[0], model.log_probs(DATA))


def test_a_model_that_loses_rows_is_caught():
    with pytest.raises(RuntimeError, match="yielded"):
        score(ShortTable(seed=0), DATA)


def test_probability_zero_is_reported_with_its_position():
    m = TablePredictor(seed=0)
    m.table = m.table.copy()
    m.table[ord("h"), ord("e")] = -np.inf  # "the" becomes impossible at its 'e'
    with pytest.raises(InputError, match="position 2"):
        score(m, b"the")


# ------------------------------------------------------------------------------------------ streams
@pytest.mark.parametrize("cls", [TablePredictor, RecomputeTable])
def test_stream_matches_log_probs_at_every_position(cls):
    m = cls(seed=2)
    lp = m.log_probs(DATA)
    st = m.stream()
    for t, b in enumerate(DATA):
        np.testing.assert_allclose(st.log_probs(), lp[t], rtol=0, atol=1e-12)
        st.push(b)


def test_recompute_stream_is_a_reference_for_the_fast_stream(model):
    fast, slow = model.stream(), RecomputeStream(model)
    for b in DATA[:40]:
        np.testing.assert_array_equal(fast.log_probs(), slow.log_probs())
        fast.push(b)
        slow.push(b)
    np.testing.assert_array_equal(fast.log_probs(), slow.log_probs())


def test_push_many_equals_pushing_one_by_one(model):
    a, b = model.stream(), model.stream()
    a.push_many(DATA[:20])
    for byte in DATA[:20]:
        b.push(byte)
    np.testing.assert_array_equal(a.log_probs(), b.log_probs())


def test_fresh_streams_are_independent(model):
    a = model.stream()
    a.push_many(b"xyz")
    np.testing.assert_array_equal(model.stream().log_probs(), model.start)


# ------------------------------------------------------------------------------------------ generate
def test_greedy_follows_the_argmax_chain(model):
    out = generate(model, b"th", steps=50, greedy=True)
    assert out.dtype == np.uint8
    assert out.tobytes() == reference_greedy(model, b"th", 50)


def test_greedy_from_an_empty_prompt_starts_at_the_start_state(model):
    assert generate(model, b"", steps=10, greedy=True).tobytes() == reference_greedy(model, b"", 10)


def test_temperature_zero_is_greedy(model):
    assert np.array_equal(generate(model, b"a", 40, temperature=0.0, seed=5),
                          generate(model, b"a", 40, greedy=True))


def test_top_k_one_is_greedy(model):
    assert np.array_equal(generate(model, b"a", 40, top_k=1, seed=9), generate(model, b"a", 40, greedy=True))


def test_prompt_is_kept_and_not_modified(model):
    prompt = np.frombuffer(b"hello", dtype=np.uint8).copy()
    out = generate(model, prompt, steps=7, seed=0)
    assert len(out) == 12 and out[:5].tobytes() == b"hello"
    assert prompt.tobytes() == b"hello"
    assert generate(model, "héllo", steps=0).tobytes() == "héllo".encode()


def test_seeded_sampling_is_reproducible_and_seed_dependent(model):
    a = generate(model, b"x", 200, seed=123)
    b = generate(model, b"x", 200, seed=123)
    c = generate(model, b"x", 200, seed=124)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_method_equals_function(model):
    kw = dict(steps=30, temperature=0.7, top_k=5, seed=4)
    assert np.array_equal(model.generate(b"q", **kw), generate(model, b"q", **kw))


def test_generation_depends_only_on_the_stream_distribution():
    fast, slow = TablePredictor(seed=8), RecomputeTable(seed=8)
    for kw in (dict(greedy=True), dict(seed=3), dict(seed=3, temperature=1.7, top_k=20)):
        assert np.array_equal(generate(fast, b"ab", 25, **kw), generate(slow, b"ab", 25, **kw))


def _empirical(lp, n, **kw):
    rng = np.random.default_rng(0)
    draws = np.array([sample_from_log_probs(lp, rng, **kw) for _ in range(n)])
    return np.bincount(draws, minlength=256) / n


def _assert_close_to(freq, p, n):
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) <= 5 * sigma + 1e-9), (freq[p > 0], p[p > 0])


LP = np.full(256, -np.inf)
LP[[10, 20, 30, 40, 50]] = np.log([0.5, 0.25, 0.15, 0.07, 0.03])


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_temperature_samples_from_the_tempered_distribution(temperature):
    n = 12_000
    p = np.exp(log_softmax(np.where(np.isfinite(LP), LP / temperature, -np.inf)))
    _assert_close_to(_empirical(LP, n, temperature=temperature), p, n)


def test_top_k_samples_from_the_renormalised_top_k():
    n = 12_000
    p = np.zeros(256)
    p[[10, 20, 30]] = np.array([0.5, 0.25, 0.15]) / 0.9
    freq = _empirical(LP, n, top_k=3)
    assert freq[[40, 50]].sum() == 0
    _assert_close_to(freq, p, n)


def test_top_k_larger_than_the_vocabulary_is_plain_sampling():
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    lp = log_softmax(np.random.default_rng(2).standard_normal(256))
    assert [sample_from_log_probs(lp, rng1, top_k=1000) for _ in range(50)] == \
           [sample_from_log_probs(lp, rng2) for _ in range(50)]


@pytest.mark.parametrize("kw, message", [
    (dict(temperature=-0.5, seed=0), "temperature"),
    (dict(temperature=float("nan"), seed=0), "temperature"),
    (dict(temperature=float("inf"), seed=0), "temperature"),
    (dict(top_k=0, seed=0), "top_k"),
    (dict(top_k=-3, seed=0), "top_k"),
])
def test_bad_sampling_arguments_are_input_errors(model, kw, message):
    with pytest.raises(InputError, match=message):
        generate(model, b"a", steps=3, **kw)


@pytest.mark.parametrize("steps", [-1, 2.5, "3", None])
def test_bad_steps_are_input_errors(model, steps):
    with pytest.raises(InputError, match="steps"):
        generate(model, b"a", steps=steps)


def test_bad_prompt_is_an_input_error(model):
    with pytest.raises(InputError, match="prompt"):
        generate(model, np.zeros((2, 2), dtype=np.uint8), steps=1)


def test_prompt_longer_than_the_context_is_an_input_error():
    m = TablePredictor(seed=0, context_length=16)
    with pytest.raises(InputError, match="context of 16 bytes"):
        generate(m, b"x" * 17, steps=0)
    with pytest.raises(InputError, match="context"):
        generate(m, b"x" * 10, steps=7)
    assert len(generate(m, b"x" * 10, steps=6, seed=0)) == 16


def test_a_sliding_window_stream_generates_past_its_context():
    m = TablePredictor(seed=0, context_length=16)
    m.slides_window = True  # an order-1 table needs far less than 16 bytes: its stream is the same anywhere
    out = generate(m, b"x" * 10, steps=30, seed=0)
    assert len(out) == 40
    assert np.array_equal(out, generate(TablePredictor(seed=0), b"x" * 10, steps=30, seed=0))


def test_unbounded_context_allows_long_generation(model):
    assert model.context_length is None
    assert len(generate(model, b"y" * 5000, steps=5, seed=0)) == 5005


# ------------------------------------------------------------------------------------------ misc helpers
def test_log_softmax_is_stable_and_normalised():
    z = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])
    out = log_softmax(z)
    assert np.all(np.isfinite(out[:, :2]))
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0)
    np.testing.assert_allclose(out[1], np.log(1 / 3))
    np.testing.assert_allclose(log_softmax(z + 50.0), out)


def test_ln2():
    assert LN2 == pytest.approx(np.log(2.0))


def test_describe(model):
    d = model.describe()
    assert d == {"name": "test-table", "class": "TablePredictor", "adaptive": False, "context_length": None}


def test_a_model_without_persistence_cannot_be_saved(tmp_path):
    class Bare(CausalPredictor):
        def log_probs(self, data):
            return np.full((len(data), 256), -np.log(256.0))

        def stream(self):
            return RecomputeStream(self)

    with pytest.raises(NotImplementedError, match="cannot be saved"):
        Bare().save(tmp_path / "bare.safetensors")
    assert not (tmp_path / "bare.safetensors").exists()
    assert score(Bare(), b"abcd").bits_per_byte == pytest.approx(8.0)

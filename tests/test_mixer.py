"""MixerPredictor: causality with online learning, stream parity, reference parity, experts, persistence, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decepticons.cli import main
from decepticons.errors import InputError
from decepticons.jit import numba_available
from decepticons.memory import ExactContextPredictor, NGramPredictor
from decepticons.mixer import MixerPredictor
from decepticons.predictor import CausalPredictor, RecomputeStream

TEXT = (b"Now is the winter of our discontent\nMade glorious summer by this sun of York;\n"
        b"And all the clouds that lour'd upon our house\nIn the deep bosom of the ocean buried.\n") * 4
TRAIN = np.frombuffer(TEXT[:500], dtype=np.uint8)
TEST = np.frombuffer(TEXT[500:], dtype=np.uint8)


class BigramExpert(CausalPredictor):
    """A tiny non-count expert (previous-byte parity decides between two fixed distributions)."""

    name = "bigram-test"

    def __init__(self) -> None:
        rng = np.random.default_rng(5)
        p = rng.random((2, 256)) + 0.01
        self.lp = np.log(p / p.sum(axis=1, keepdims=True))

    def log_probs(self, data):
        x = np.asarray(bytearray(bytes(data)), dtype=np.int64)
        prev = np.concatenate([[0], x[:-1]]) % 2
        return self.lp[prev]

    def stream(self):
        return RecomputeStream(self)


def _make(**kw):
    return MixerPredictor(orders=4, match_min=5, **kw)


@pytest.fixture(scope="module")
def fitted():
    m = _make()
    m.fit(TRAIN)
    return m


@pytest.fixture(scope="module")
def with_experts():
    m = MixerPredictor(orders=3, match_min=4, experts=[NGramPredictor(orders=2), BigramExpert()])
    m.fit(TRAIN)
    return m


def _stream_rows(model, data):
    st = model.stream()
    rows = []
    for b in data:
        rows.append(st.log_probs())
        st.push(int(b))
    return np.array(rows)


def test_stream_pushes_without_asking_then_predicts(fitted):
    """``push`` defers learning to the next compiled call; pushing a run of bytes with no prediction asked
    in between must land in the same state as asking at every step."""
    lp = fitted.log_probs(TEST)
    st = fitted.stream()
    assert st.t == 0
    st.push_many(TEST[:50])
    assert st.t == 50
    assert np.max(np.abs(st.log_probs() - lp[50])) < 1e-12
    st.push(int(TEST[50]))
    st.push(int(TEST[51]))
    assert st.t == 52
    assert np.max(np.abs(st.log_probs() - lp[52])) < 1e-12
    with pytest.raises(InputError):
        st.push(256)


@pytest.mark.skipif(not numba_available(), reason="numba not installed")
def test_reference_path_matches_numba():
    fast, ref = _make(use_numba=True), _make(use_numba=False)
    assert fast.fit(TRAIN[:200]).train_bits_per_byte == ref.fit(TRAIN[:200]).train_bits_per_byte
    assert np.array_equal(fast.W1, ref.W1) and np.array_equal(fast.W2, ref.W2)
    assert np.array_equal(fast.log_probs(TEST[:60]), ref.log_probs(TEST[:60]))
    # the stream path too (one compiled call per byte vs the interpreted reference)
    assert np.array_equal(_stream_rows(fast, TEST[:40]), _stream_rows(ref, TEST[:40]))
    assert np.array_equal(_stream_rows(ref, TEST[:40]), ref.log_probs(TEST[:40]))


def test_fit_trains_weights_and_adaptation_helps():
    m = _make()
    w0 = m.W1.copy()
    m.fit(TRAIN)
    assert not np.array_equal(m.W1, w0)
    frozen = MixerPredictor(orders=4, match_min=5, online=False)
    frozen.fit(TRAIN)
    novel = b"Grim-visaged war hath smooth'd his wrinkled front; " * 3  # not in TRAIN, repeats itself
    assert m.score(novel).bits_per_byte < 0.8 * frozen.score(novel).bits_per_byte
    assert not frozen.adaptive


def test_mixer_beats_its_inputs_on_text():
    """Mixing the orders, the match model and an expert is no worse than the top n-gram order alone."""
    ng = NGramPredictor(orders=4)
    ng.fit(TRAIN)
    mx = MixerPredictor(orders=4, match_min=5, experts=[ExactContextPredictor(order=2)])
    mx.fit(TRAIN)
    assert mx.score(TEST).bits_per_byte < ng.score(TEST).bits_per_byte


def test_substrate_coder_as_expert():
    coder_mod = pytest.importorskip("decepticons.coder")
    try:
        coder = coder_mod.ByteLatentPredictiveCoder()
    except Exception as e:  # pragma: no cover - depends on the coder's defaults
        pytest.skip(f"coder not constructible with defaults: {e}")
    m = MixerPredictor(orders=2, match_min=0, experts=[coder])
    m.fit(TRAIN)
    lp = m.log_probs(TEST[:60])
    assert np.max(np.abs(_stream_rows(m, TEST[:60]) - lp)) < 1e-6
    assert "expert0:" + coder.name in m.input_names()


def test_bad_configuration():
    with pytest.raises(InputError):
        MixerPredictor(lr=-1)
    with pytest.raises(InputError):
        MixerPredictor(match_min=99)
    with pytest.raises(InputError):
        MixerPredictor(experts=["not a model"])
    with pytest.raises(InputError):
        MixerPredictor().fit(b"")


def test_cli_fit_score_mixer(tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_bytes(TEXT[:500])
    test = tmp_path / "test.txt"
    test.write_bytes(TEXT[500:])
    model = tmp_path / "mx.safetensors"
    assert main(["fit", "--model", "mixer", "--config", "orders=3", "--input", str(train), "--save", str(model),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fit"]["model"] == "mixer"
    assert main(["score", "--load", str(model), "--input", str(test), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["score"]
    assert rep["adaptive"] is True and 0 < rep["bits_per_byte"] < 8


@pytest.mark.parametrize("use_numba", [False, True] if numba_available() else [False])
def test_colliding_context_keys_share_a_slot_without_corrupting_the_tables(use_numba):
    """The line context's key equals the order-6 key when a line reads ``A A 0x05 '7' 'k' ','`` at
    column 6; both new at one position must not re-initialise the slot (orphaned nodes)."""
    from decepticons.coding import compress, decompress

    data = b"Some ordinary text.\nAA\x057k,and more text after it.\n" * 3
    m = MixerPredictor(use_numba=use_numba)
    m.fit(data)  # compacts at the end: raises when a node is orphaned
    tb = m.tables
    assert tb.n_contexts == int(np.count_nonzero(tb.keys))
    m.tables.compact(use_numba)
    assert np.array_equal(decompress(m, compress(m, data)), np.frombuffer(data, np.uint8))


class _ZeroExpert(BigramExpert):
    """An expert that gives some bytes probability exactly 0 (log-prob -inf)."""

    def log_probs(self, data):
        lp = super().log_probs(data)
        lp[:, 200:] = -np.inf
        return lp

    def stream(self):
        return RecomputeStream(self)


@pytest.mark.parametrize("use_numba", [False, True] if numba_available() else [False])
def test_an_expert_with_zero_probabilities_stays_finite(use_numba):
    m = MixerPredictor(orders=3, match_min=4, experts=[_ZeroExpert()], use_numba=use_numba)
    m.fit(TRAIN[:300])
    lp = m.log_probs(TEST[:80])
    assert np.all(np.isfinite(lp)) and np.allclose(np.exp(lp).sum(1), 1.0)

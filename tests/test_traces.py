"""Traces: one record per position for every registered model, the base columns agree with the model's own
rows, the trace file round-trips and is checked when read, and the order that the count memories, the mixer
and the coder report as having decided each byte matches a slow reference (substring search) on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from contract import cases, sample_bytes, tiny_spec, train_bytes
from decepticons.coder import ByteLatentPredictiveCoder
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.memory import BackoffPredictor, ExactContextPredictor, NGramPredictor
from decepticons.mixer import MixerPredictor
from decepticons.predictor import LN2
from decepticons.registry import available_models
from decepticons.runtime import BASE_COLUMNS, TraceFields, read_trace, trace

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN, VALID = embedded_corpus()
FIT = np.asarray(TRAIN[:3000])
SCORE = np.asarray(VALID[:1500])


@pytest.mark.parametrize("name", cases(available_models()))
def test_every_model_traces_one_record_per_position(name, tmp_path):
    model = tiny_spec(name).make(train_bytes())
    x = sample_bytes()
    tr = trace(model, x, chunk_size=97)
    assert tr.bytes == len(x)
    assert all(col.shape == (len(x),) for col in tr.columns.values())
    assert list(tr.columns)[:len(BASE_COLUMNS)] == list(BASE_COLUMNS)
    lp = model.log_probs(x)
    idx = np.arange(len(x))
    np.testing.assert_allclose(tr.columns["bits"], -lp[idx, x] / LN2, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(tr.columns["byte"], x)
    assert np.array_equal(tr.columns["top1"], np.argmax(lp, axis=1))
    np.testing.assert_allclose(tr.columns["top1_prob"], np.exp(lp.max(axis=1)), rtol=1e-5)
    p = np.exp(lp)
    np.testing.assert_allclose(tr.columns["entropy"], -(p * lp).sum(axis=1) / LN2, rtol=1e-4, atol=1e-4)
    assert np.all(tr.columns["entropy"] >= -1e-4) and np.all(tr.columns["entropy"] <= 8 + 1e-4)
    if isinstance(model, TraceFields):
        assert len(tr.columns) > len(BASE_COLUMNS)
    path = tmp_path / "t.safetensors"
    tr.save(path)
    back = read_trace(path)
    assert back.kind == model.name and back.bytes == len(x) and list(back.columns) == list(tr.columns)
    for k, v in tr.columns.items():
        assert np.array_equal(back.columns[k], v) and back.columns[k].dtype == v.dtype


def reference_orders(orders: list[int], fit: bytes, x: bytes, online: bool) -> np.ndarray:
    """Longest order k whose context ``x[t-k:t]`` had been followed by a byte in ``fit`` (or, when the model
    learns while scoring, earlier in ``x``); 0 when none."""
    seen = {k: {fit[s - k:s] for s in range(k, len(fit))} for k in orders}
    out = np.zeros(len(x), dtype=np.int64)
    for t in range(len(x)):
        for k in orders:
            if t >= k and x[t - k:t] in seen[k]:
                out[t] = k
        if online:
            for k in orders:
                if t >= k:
                    seen[k].add(x[t - k:t])
    return out


MEMORIES = {
    "ngram": lambda: NGramPredictor(orders=4),
    "ngram-frozen": lambda: NGramPredictor(orders=[1, 2, 3, 5], online=False),
    "backoff": lambda: BackoffPredictor(orders=3),
    "exact-context": lambda: ExactContextPredictor(order=2),
    "mixer": lambda: MixerPredictor(orders=[1, 2, 3, 4, 6]),
}


@pytest.mark.parametrize("name", sorted(MEMORIES))
def test_reported_order_matches_a_slow_reference(name):
    model = MEMORIES[name]()
    model.fit(FIT)
    got = model.trace_fields(SCORE)["order"]
    ref = reference_orders(list(model.orders), bytes(FIT), bytes(SCORE), model.adaptive)
    assert np.array_equal(got, ref), f"first mismatch at {np.flatnonzero(got != ref)[:5]}"
    assert len(set(got.tolist())) >= min(3, len(model.orders) + 1)  # several orders decided bytes


def test_mixer_trace_columns_are_in_range():
    model = MixerPredictor(orders=[1, 2, 3, 4, 6])
    model.fit(FIT)
    x = np.concatenate([SCORE, SCORE[:400]])  # a repeat: the match model must fire
    before = model.log_probs(x[:300])
    f = model.trace_fields(x)
    assert np.all((f["dominant_input"] >= 0) & (f["dominant_input"] < len(model.input_names())))
    ml = f["match_length"]
    assert ml.min() >= 0
    assert ml[len(SCORE) + 50:].min() > 0 and ml[-1] >= 300  # the repeat is followed to its end
    assert len(np.unique(f["dominant_input"])) > 1
    # tracing leaves the fitted state alone: the model predicts as before
    np.testing.assert_array_equal(model.log_probs(x[:300]), before)


def test_coder_reports_the_longest_seen_exact_context():
    model = ByteLatentPredictiveCoder(max_order=4, ridge_lambdas=[1.0])
    model.fit(FIT)
    got = model.trace_fields(SCORE)["order"]
    pad = lambda data, s, k: tuple([-1] * max(0, k - s)) + tuple(data[max(0, s - k):s])  # noqa: E731
    fit, x = FIT.tolist(), SCORE.tolist()
    seen = {k: {pad(fit, s, k) for s in range(len(fit))} for k in range(5)}
    ref = np.array([max(k for k in range(5) if pad(x, t, k) in seen[k]) for t in range(len(x))])
    assert np.array_equal(got, ref), f"first mismatch at {np.flatnonzero(got != ref)[:5]}"
    assert got.min() <= 2 and got.max() == 4


def test_read_trace_refuses_other_files(tmp_path):
    model = NGramPredictor(orders=2)
    model.fit(FIT)
    mpath = tmp_path / "m.safetensors"
    model.save(mpath)
    with pytest.raises(InputError, match="not a decepticons trace"):
        read_trace(mpath)
    from safetensors.numpy import save

    tr = trace(model, SCORE[:50])
    cols = dict(tr.columns)
    cols["bits"] = cols["bits"][:10]
    meta = {"format": "decepticons-trace", "format_version": "1", "bytes": "50",
            "columns": '["bits", "entropy", "top1", "top1_prob", "byte"]'}
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(save({k: cols[k] for k in BASE_COLUMNS}, metadata=meta))
    with pytest.raises(InputError, match="not 1-D of length 50"):
        read_trace(bad)
    with pytest.raises(InputError, match="empty"):
        trace(model, b"")

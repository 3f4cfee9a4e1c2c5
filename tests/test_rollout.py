"""Rollout evaluation: free-running generation against teacher forcing, on real models and text.

Step 1 conditions both ways on the prefix alone, so the curves start together; a greedy rollout is exactly
``generate(greedy=True)`` from the prefix; teacher-forced bits are the model's own scores; a model that knows a
periodic text stays on track; on real text a rollout's mistakes make the true continuation cost more; seeds and
start positions behave; bad arguments are InputErrors; every registered model runs; the command line works."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _cli_run import assert_user_error, run
from contract import cases, sample_bytes, tiny_spec, train_bytes
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.memory import NGramPredictor
from decepticons.predictor import LN2, generate
from decepticons.registry import available_models
from decepticons.runtime import evaluate_rollout, evaluate_rollout_curve

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN, VALID = embedded_corpus()
HELD = np.asarray(VALID[:6000])


@pytest.fixture(scope="module")
def ngram():
    m = NGramPredictor(orders=4)
    m.fit(TRAIN[:60000])
    return m


def test_step_one_agrees_and_greedy_is_generate(ngram):
    curve = evaluate_rollout_curve(ngram, HELD, 12, starts=10, context=48, seed=5)
    for r in (curve.greedy, curve.sampled):
        np.testing.assert_allclose(r.rollout_bits[:, 0], r.teacher_bits[:, 0], rtol=0, atol=1e-9)
        assert np.array_equal(r.rollout_hits[:, 0], r.teacher_hits[:, 0])
    g = curve.greedy
    for n, s in enumerate(g.starts):
        out = generate(ngram, HELD[s - 48:s], steps=12, greedy=True)
        assert np.array_equal(g.generated[n], out[48:])
        lp = ngram.log_probs(HELD[s - 48:s + 12])[48:]
        np.testing.assert_allclose(g.teacher_bits[n], -lp[np.arange(12), HELD[s:s + 12]] / LN2, rtol=1e-12)
        assert np.array_equal(g.teacher_hits[n], np.argmax(lp, axis=1) == HELD[s:s + 12])
    assert np.array_equal(g.rollout_hits, g.generated == np.stack([HELD[s:s + 12] for s in g.starts]))


def test_on_real_text_a_rollout_pays_for_its_own_mistakes(ngram):
    r = evaluate_rollout(ngram, HELD, 24, starts=40, context=64)
    assert r.rollout_bits_per_byte[4:].mean() > r.teacher_bits_per_byte[4:].mean() + 1.0
    assert r.on_track[-1] < r.on_track[0] and np.all(np.diff(r.on_track) <= 0)
    d = r.to_dict()
    assert len(d["curves"]["rollout_accuracy"]) == 24 and d["n_starts"] == len(r.starts) == 40
    assert d["mean"]["teacher_bits_per_byte"] == pytest.approx(r.teacher_bits.mean())


def test_a_model_that_knows_a_periodic_text_stays_on_track():
    text = np.frombuffer(b"the cat sat on the mat. " * 40, dtype=np.uint8)
    m = NGramPredictor(orders=6, online=False)
    m.fit(text)
    r = evaluate_rollout(m, text, 30, starts=8, context=24)
    assert r.on_track.min() == 1.0 and r.rollout_accuracy.min() == 1.0
    np.testing.assert_allclose(r.rollout_bits, r.teacher_bits, atol=1e-9)


def test_seeds_and_start_positions(ngram):
    a = evaluate_rollout(ngram, HELD, 10, starts=[100, 900, 2000], context=64, greedy=False, seed=1)
    b = evaluate_rollout(ngram, HELD, 10, starts=[900], context=64, greedy=False, seed=1)
    c = evaluate_rollout(ngram, HELD, 10, starts=[100, 900, 2000], context=64, greedy=False, seed=2)
    assert np.array_equal(a.generated[1], b.generated[0])  # a start's draws do not depend on the others
    assert not np.array_equal(a.generated, c.generated)
    assert a.mode == "sampled" and list(a.starts) == [100, 900, 2000]
    spread = evaluate_rollout(ngram, HELD, 10, starts=5, context=64)
    assert spread.starts[0] == 64 and spread.starts[-1] == len(HELD) - 10 and len(spread.starts) == 5
    whole = evaluate_rollout(ngram, HELD[:500], 8, starts=[0, 300], context=None)
    assert whole.context is None and whole.starts.tolist() == [0, 300]


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "k must be"),
    (dict(k=10, starts=0), "starts must be"),
    (dict(k=10, starts=[10]), "start positions must lie in 64"),
    (dict(k=10, starts=[5991]), "start positions must lie"),
    (dict(k=10, starts="3"), "starts must be"),
    (dict(k=10, context=-2), "context must be"),
    (dict(k=10, temperature=float("nan"), greedy=False), "temperature"),
    (dict(k=7000), "too short"),
])
def test_bad_arguments_are_input_errors(ngram, kwargs, match):
    kwargs.setdefault("context", 64)
    with pytest.raises(InputError, match=match):
        evaluate_rollout(ngram, HELD, **kwargs)
    with pytest.raises(InputError, match="temperature > 0"):
        evaluate_rollout_curve(ngram, HELD, 4, temperature=0)


@pytest.mark.parametrize("name", cases(available_models()))
def test_every_registered_model_rolls_out(name):
    model = tiny_spec(name).make(train_bytes())
    x = sample_bytes()
    curve = evaluate_rollout_curve(model, x, 4, starts=3, context=16, seed=0)
    for r in (curve.greedy, curve.sampled):
        assert r.rollout_bits.shape == (3, 4) and np.all(np.isfinite(r.rollout_bits))
        np.testing.assert_allclose(r.rollout_bits[:, 0], r.teacher_bits[:, 0], rtol=1e-4, atol=1e-4)


def test_rollout_command(ngram, tmp_path):
    model, held = tmp_path / "m.safetensors", tmp_path / "held.txt"
    ngram.save(model)
    held.write_bytes(HELD[:3000].tobytes())
    code, out, err = run(["rollout", "--load", str(model), "--input", str(held), "--steps", "8", "--starts", "6",
                          "--context", "32", "--json", "--plot", str(tmp_path / "r.png")])
    assert code == 0, err
    d = json.loads(out)
    assert set(d["rollout"]) == {"greedy", "sampled"}
    assert len(d["rollout"]["greedy"]["curves"]["teacher_bits_per_byte"]) == 8
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(["rollout", "--load", str(model), "--input", str(held), "--steps", "8", "--starts", "6"])
    assert code == 0 and "acc rollout" in out and "sampled" in out
    assert_user_error(run(["rollout", "--load", str(model), "--input", str(held), "--steps", "0"]), "k must be")
    assert_user_error(run(["rollout", "--load", str(model), "--input", str(held), "--steps", "4000"]), "too short")
    assert_user_error(run(["rollout", "--load", str(model), "--input", str(held), "--plot", str(held)]),
                      "same file as --input")

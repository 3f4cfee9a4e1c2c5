"""``decepticons score --static``: an adaptive model scored frozen gives the bench's static figure (the model
does not learn from the scored bytes), the default stays adaptive, a static model is the same either way, and
a model whose adaptation cannot be switched off is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _cli_run import run
from decepticons.bench import frozen
from decepticons.cli import _frozen_or_fail
from decepticons.errors import InputError
from decepticons.predictor import CausalPredictor
from decepticons.registry import load_model

TRAIN = b"the cat sat on the mat. " * 200
#: bytes unlike the training text, repeated: an adaptive model learns the repeat, a frozen one cannot
NOVEL = bytes(np.random.default_rng(3).integers(97, 105, 600).astype(np.uint8)) * 3


def _score(path: Path, data: Path, *extra: str) -> dict:
    code, out, err = run(["score", "--load", str(path), "--input", str(data), "--json", *extra])
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("kind", ["ngram", "mixer"])
def test_static_scoring_of_an_adaptive_model(kind: str, tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_bytes(TRAIN)
    (tmp_path / "novel.txt").write_bytes(NOVEL)
    model_path = tmp_path / "m.safetensors"
    code, _, err = run(["fit", "--model", kind, "--input", str(tmp_path / "train.txt"), "--save", str(model_path),
                        "--quiet"])
    assert code == 0, err
    adaptive = _score(model_path, tmp_path / "novel.txt")
    static = _score(model_path, tmp_path / "novel.txt", "--static")
    assert adaptive["static"] is False and static["static"] is True
    # learning the repeated novel block is what makes the adaptive figure much lower
    assert static["score"]["bits_per_byte"] > adaptive["score"]["bits_per_byte"] + 1.0
    model = load_model(str(model_path))
    still = frozen(model)
    assert still is not None
    assert static["score"]["bits_per_byte"] == pytest.approx(still.score(NOVEL, progress=False).bits_per_byte,
                                                             rel=1e-12)
    # the frozen copy's per-byte bits of the third repeat equal the second's: nothing was learned in between
    bits = -still.target_log_probs(NOVEL) / np.log(2)
    np.testing.assert_allclose(bits[1200:1800], bits[600:1200], rtol=0, atol=1e-9)
    # ... and scoring frozen left the loaded model as it was
    assert model.score(NOVEL, progress=False).bits_per_byte == pytest.approx(adaptive["score"]["bits_per_byte"])


def test_static_model_is_the_same_either_way(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_bytes(TRAIN)
    (tmp_path / "novel.txt").write_bytes(NOVEL[:500])
    model_path = tmp_path / "c.safetensors"
    code, _, err = run(["fit", "--model", "coder", "--input", str(tmp_path / "train.txt"), "--save",
                        str(model_path), "--quiet"])
    assert code == 0, err
    a = _score(model_path, tmp_path / "novel.txt")
    s = _score(model_path, tmp_path / "novel.txt", "--static")
    assert a["static"] is True and s["static"] is True
    assert a["score"]["bits_per_byte"] == s["score"]["bits_per_byte"]


class _AlwaysLearning(CausalPredictor):
    name = "always-learning"
    adaptive = True

    def log_probs(self, data):  # pragma: no cover - never scored here
        raise NotImplementedError

    def stream(self):  # pragma: no cover
        raise NotImplementedError


def test_unfreezable_model_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="keeps learning while it scores.*without --static"):
        _frozen_or_fail(_AlwaysLearning(), "x.safetensors")

"""The ``transformer`` model: causal, exact sliding-window scoring, parameter matching, validated config,
trained by the shared trainer and through ``decepticons train``."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decepticons.cli import main  # noqa: E402
from decepticons.errors import InputError  # noqa: E402
from decepticons.registry import model_class  # noqa: E402
from decepticons.training import TrainConfig, train  # noqa: E402
from decepticons.transformer import TransformerConfig, count_parameters, matched_config  # noqa: E402
from decepticons.transformer.predictor import TransformerPredictor as TransformerBaseline  # noqa: E402

CFG = dict(d_model=16, n_layer=2, n_head=2, block_size=16)
TEXT = np.frombuffer(b"To be, or not to be, that is the question: whether 'tis nobler in the mind", dtype=np.uint8)


def test_causal_perturbing_the_future_leaves_the_past_unchanged():
    m = TransformerBaseline(**CFG, seed=1)
    x = TEXT[:40].copy()
    base = m.log_probs(x)
    rng = np.random.default_rng(0)
    for t in (0, 7, 16, 25, 39):
        y = x.copy()
        y[t:] = rng.integers(0, 256, len(x) - t, dtype=np.uint8)
        np.testing.assert_allclose(m.log_probs(y)[:t + 1], base[:t + 1], atol=1e-5)


def test_sliding_window_rows_match_direct_windows():
    m = TransformerBaseline(**CFG, seed=2)
    x = TEXT[:45]
    lp = m.log_probs(x)
    assert lp.shape == (45, 256)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, atol=1e-9)
    inputs = np.concatenate([[0], x[:-1]]).astype(np.int64)
    with torch.no_grad():
        # row 20 lies in the window starting at 8 (stride 8): it sees inputs 8..20
        w = torch.log_softmax(m.module(torch.from_numpy(inputs[8:24])[None])[0].double(), -1).numpy()
    np.testing.assert_allclose(lp[16:24], w[8:16], atol=1e-9)
    np.testing.assert_allclose(lp[:16], m.log_probs(x[:16]), atol=1e-9)
    st = m.stream()
    st.push_many(x[:30])
    np.testing.assert_allclose(st.log_probs(), lp[30], atol=1e-9)


def test_parameter_count_and_matching():
    m = TransformerBaseline(**CFG)
    assert m.num_parameters() == count_parameters(m.config)
    cfg = matched_config(150_000)
    assert abs(count_parameters(cfg) - 150_000) < 0.1 * 150_000


def test_trains_with_the_shared_trainer():
    m = TransformerBaseline(**CFG, seed=0)
    data = np.tile(TEXT, 60)
    res = train(m, data, TEXT, TrainConfig(batch_size=4, seq_len=16, max_steps=30, lr=1e-2, warmup_steps=3,
                                           eval_every=0, eval_bytes=512,
                                           checkpoint_seconds=None))
    assert res.valid_bits_per_byte < 7.0


def test_registered_and_config_validated():
    assert model_class("transformer") is TransformerBaseline
    for bad in (dict(d_model=0), dict(n_head=3), dict(block_size=1), dict(dropout=1.0), dict(dropout=float("nan")),
                dict(n_layer=2.5)):
        with pytest.raises(InputError, match="TransformerConfig"):
            TransformerConfig(**{**CFG, **bad})
    m = TransformerBaseline(**CFG)
    assert m.context_length == 16 and m.slides_window
    assert len(m.generate(b"ab", steps=40, seed=0)) == 42  # past the block size: the window slides


def test_train_command_then_score(tmp_path, capsys):
    tr = tmp_path / "train.txt"
    tr.write_bytes(np.tile(TEXT, 40).tobytes())
    model = str(tmp_path / "t.safetensors")
    small = ["--config", "d_model=16", "--config", "n_layer=1", "--config", "n_head=2", "--config", "block_size=16"]
    assert main(["train", "--model", "transformer", "--input", str(tr), "--steps", "3", "--batch-size", "4",
                 "--save", model, "--json", *small, "--config", "train.eval_bytes=256"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train"]["steps"] == 3
    assert main(["score", "--load", model, "--input", str(tr), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"]["bits_per_byte"] > 0
    assert main(["train", "--model", "transformer", "--input", str(tr), "--steps", "1", "--config", "d_model=0"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "d_model" in err

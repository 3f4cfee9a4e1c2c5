"""Non-finite and out-of-range numbers: refused up front in configurations and flags, a diverging training
run stops with a clear error and keeps its last good checkpoint, and no model with non-finite weights is ever
saved or loaded."""

from __future__ import annotations

import numpy as np
import pytest

from _hostile import LINUX, assert_user_error, model_parts, needs_torch, resave, run_cli
from decepticons import InputError, ModelFileError
from decepticons.data import embedded_corpus
from decepticons.registry import load_model, model_class

TRAIN = np.asarray(embedded_corpus()[0][:30_000])


@pytest.fixture()
def text_file(tmp_path):
    p = tmp_path / "train.txt"
    p.write_bytes(TRAIN.tobytes())
    return p


# ------------------------------------------------------------------------------------------ configurations
@pytest.mark.parametrize("setting, needle", [
    ("discount=NaN", "discount"),
    ("escape=Infinity", "escape"),
    ("escape=-Infinity", "escape"),
    ("discount=[0.5, NaN, 0.5, 0.5, 0.5, 0.5, 0.5]", "discount"),
    ("max_total=1e400", "max_total"),
])
def test_non_finite_fit_settings_are_refused_before_fitting(tmp_path, text_file, setting, needle):
    out = tmp_path / "m.safetensors"
    r = run_cli(["fit", "--model", "ngram", "--config", setting, "--input", str(text_file), "--save", str(out)])
    line = assert_user_error(r, needle, seconds=60)
    assert "allowed" in line or "finite" in line
    assert not out.exists()



TINY_BANK = ["--model", "causal-bank", "--config", "embed_dim=8", "--config", "num_modes=8", "--config",
             "num_oscillatory=2", "--config", "readout_hidden=16", "--config", "input_hidden=0", "--config",
             "local_window=2", "--batch-size", "4", "--seq-len", "32", "--config", "train.eval_every=0",
             "--config", "train.plot=false"]


@needs_torch
@pytest.mark.parametrize("flags, needle", [
    (["--lr", "inf"], "lr"),
    (["--lr", "nan"], "lr"),
    (["--lr", "-1"], "lr"),
    (["--config", "train.grad_clip=NaN"], "grad_clip"),
    (["--config", "train.lr=Infinity"], "lr"),
    (["--config", "train.weight_decay=-Infinity"], "weight_decay"),
    (["--config", "half_life_max=NaN"], "half_life_max"),
])
def test_non_finite_train_settings_are_refused_before_training(tmp_path, text_file, flags, needle):
    out = tmp_path / "m.safetensors"
    r = run_cli(["train", *TINY_BANK, "--input", str(text_file), "--steps", "2", "--save", str(out), *flags],
                torch=True, mem=0)
    assert_user_error(r, needle, seconds=90)
    assert not out.exists()


@needs_torch
def test_a_diverging_run_stops_and_keeps_its_last_good_checkpoint(tmp_path, text_file):
    run = tmp_path / "run"
    out = tmp_path / "m.safetensors"
    base = ["train", *TINY_BANK, "--input", str(text_file), "--run-dir", str(run)]
    r = run_cli([*base, "--steps", "4", "--quiet"], torch=True, mem=0)
    assert r.returncode == 0, r.stderr
    good = (run / "checkpoints" / "latest").read_text()
    assert good == "step-00000004"
    before = {p.name: p.read_bytes() for p in (run / "checkpoints" / good).iterdir()}
    r = run_cli([*base, "--steps", "40", "--resume", "--lr", "1e30", "--config", "train.grad_clip=0",
                 "--save", str(out)], torch=True, mem=0)
    assert_user_error(r, "training diverged at step", "is not finite", "the last checkpoint (step-00000004) is kept",
                      seconds=120)
    assert not out.exists()
    assert (run / "checkpoints" / "latest").read_text() == good
    assert {p.name: p.read_bytes() for p in (run / "checkpoints" / good).iterdir()} == before
    model = load_model(run / "checkpoints" / good / "model.safetensors")  # finite, loads
    assert all(np.all(np.isfinite(v)) for v in model.state_tensors().values())
    r = run_cli([*base, "--steps", "6", "--resume", "--save", str(out), "--quiet"], torch=True, mem=0)
    assert r.returncode == 0 and out.exists(), r.stderr  # and the run goes on from it at a sane rate


@needs_torch
def test_the_trainer_api_stops_before_the_weights_turn_non_finite():
    from decepticons.training import TrainConfig, train

    m = model_class("causal-bank")(embed_dim=8, num_modes=8, num_oscillatory=2, readout_hidden=16, input_hidden=0,
                                   local_window=2)
    cfg = TrainConfig(batch_size=4, seq_len=32, max_steps=50, lr=1e30, grad_clip=None, eval_every=0,
                      checkpoint_seconds=None, plot=False, device="cpu")
    with pytest.raises(InputError, match="training diverged"):
        train(m, TRAIN, config=cfg, progress=False)
    assert all(np.all(np.isfinite(v)) for v in m.state_tensors().values())


# ------------------------------------------------------------------------------------------ weights
@needs_torch
def test_a_model_with_non_finite_weights_is_never_saved(tmp_path):
    import torch

    m = model_class("backoff")(orders=[1, 2])
    m.fit(TRAIN[:5000], progress=False)
    m.lam[1, 0] = np.nan
    with pytest.raises(InputError, match="refusing to save a backoff model whose weights are not finite.*lam"):
        m.save(tmp_path / "b.safetensors")
    assert not (tmp_path / "b.safetensors").exists()
    bank = model_class("causal-bank")(embed_dim=8, num_modes=8, num_oscillatory=2, readout_hidden=16, input_hidden=0,
                                      local_window=2)
    with torch.no_grad():
        bank.module.fc2.weight[0, 0] = float("inf")
    with pytest.raises(InputError, match="fc2.weight"):
        bank.save(tmp_path / "c.safetensors")


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
@pytest.mark.parametrize("name, tensor", [("backoff", "lam"), ("mixer", "W1"), ("coder", "readout.W"),
                                          pytest.param("causal-bank", "fc1.weight", marks=needs_torch)])
def test_a_file_with_non_finite_weights_is_refused_on_load(tmp_path, text_file, name, tensor):
    small = {"backoff": {"orders": [1, 2]}, "mixer": {"orders": 2, "match_min": 4},
             "coder": {"max_order": 1, "substrate_options": {"n_decays": 4, "embed_dim": 4}},
             "causal-bank": {"embed_dim": 8, "num_modes": 8, "num_oscillatory": 2, "readout_hidden": 16,
                             "input_hidden": 0, "local_window": 2}}[name]
    m = model_class(name)(**small)
    if name != "causal-bank":
        m.fit(TRAIN[:5000], progress=False)
    kind, config, tensors, extra = model_parts(m)
    tensors[tensor] = tensors[tensor].copy()
    tensors[tensor].flat[0] = np.nan
    p = resave(tmp_path / "nan.safetensors", kind, config, tensors, extra)
    with pytest.raises(ModelFileError, match=f"non-finite values .* in {tensor}"):
        load_model(p)
    assert_user_error(run_cli(["score", "--load", str(p), "--input", str(text_file)], torch=name == "causal-bank"),
                      "non-finite", seconds=60)

"""Training checkpoints are verified like model files, and every field is checked before a run resumes.

Raw edits (one optimizer value, one flipped bit) fail the checksum or the fingerprint. Hostile checkpoints are
written through the package's own checkpoint writer, so they pass both, and must be refused by the field
checks: one clear :class:`ModelFileError` (exit status 2 from the command line), never a traceback and
never a silent resume.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _hostile import assert_user_error, run_cli  # noqa: E402
from _torch_tiny import TinyConvPredictor, TinyGRUPredictor, corpus  # noqa: E402
from decepticons.errors import ModelFileError  # noqa: E402
from decepticons.training import TrainConfig, Trainer, latest_checkpoint  # noqa: E402
from decepticons.training.checkpoint_files import read_checkpoint_file, write_checkpoint_file  # noqa: E402

DATA = corpus(12_000)


def _config(**kw) -> TrainConfig:
    base = dict(batch_size=4, seq_len=16, lr=1e-2, warmup_steps=2, max_steps=4, eval_every=0, eval_bytes=512,
                log_every=1, checkpoint_seconds=None, plot=False, checkpoint_every=2, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def _trainer(run, carried=False, **kw):
    cls = TinyGRUPredictor if carried else TinyConvPredictor
    cfg = _config(mode="carried", **kw) if carried else _config(**kw)
    return Trainer(cls(), DATA, config=cfg, run_dir=run, progress=False)


@pytest.fixture()
def run(tmp_path):
    r = tmp_path / "run"
    _trainer(r).run()
    return r


@pytest.fixture()
def carried_run(tmp_path):
    r = tmp_path / "crun"
    _trainer(r, carried=True).run()
    return r


def _resume(run, carried=False, **kw):
    return _trainer(run, carried=carried, **{"max_steps": 8, **kw}).run(resume=True)


def _rewrite(path, edit):
    """Read a checkpoint file, let ``edit(tensors, meta)`` change it, write it back through the writer."""
    tensors, meta = read_checkpoint_file(path)
    edit(tensors, meta)
    write_checkpoint_file(path, tensors, meta)


def test_a_clean_checkpoint_resumes(run):
    assert _resume(run).steps == 8


def test_raw_edits_fail_the_integrity_checks(run):
    ck = latest_checkpoint(run)
    f = ck / "trainer.safetensors"
    raw = bytearray(f.read_bytes())
    header = 8 + int.from_bytes(raw[:8], "little")
    raw[header + 3] ^= 0x10  # one bit of an optimizer moment
    f.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="do not match the fingerprint"):
        _resume(run)
    raw[header + 3] ^= 0x10
    i = raw.index(b'\\"step\\": 4')  # the step inside the metadata's JSON text
    raw[i + 10:i + 11] = b"3"
    f.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum"):
        _resume(run)


def _set(key, value):
    def edit(tensors, meta):
        meta[key] = value
    return edit


def _drop(key):
    def edit(tensors, meta):
        del meta[key]
    return edit


def _tensor_edit(fn):
    def edit(tensors, meta):
        name = next(k for k in sorted(tensors) if k.startswith("opt.") and k.endswith("exp_avg"))
        tensors[name] = fn(tensors[name])
    return edit


def _extra_tensor(tensors, meta):
    tensors["opt.999.exp_avg"] = torch.zeros(3)


def _step_tensor_high(tensors, meta):
    name = next(k for k in sorted(tensors) if k.endswith(".step"))
    tensors[name] = torch.tensor(1e6)


def _missing_moment(tensors, meta):
    del tensors[next(k for k in sorted(tensors) if k.endswith("exp_avg_sq"))]


def _negative_second_moment(tensors, meta):
    name = next(k for k in sorted(tensors) if k.endswith("exp_avg_sq"))
    tensors[name] = -tensors[name] - 1


def _short_generator(tensors, meta):
    tensors["data.gen"] = tensors["data.gen"][:100]


def _lr_text(tensors, meta):
    meta["param_groups"][0]["lr"] = "fast"


def _group_sizes(tensors, meta):
    meta["group_sizes"] = [meta["group_sizes"][0] + 1] + meta["group_sizes"][1:]


@pytest.mark.parametrize("edit, message", [
    (_set("step", -5), "step = -5 is not allowed; allowed: an integer >= 0"),
    (_set("step", 3), "says it is of step 3"),
    (_set("step", "4"), "step = '4' is not allowed"),
    (_set("elapsed", float("nan")), "elapsed = nan is not allowed; allowed: a finite number"),
    (_set("train_seconds", 1e9), "train_seconds exceeds elapsed"),
    (_set("last_loss", float("inf")), "last_loss = inf"),
    (_set("world_size", 0), "world_size = 0"),
    (_set("train_config", {"max_steps": 2, "batch_size": 4}), "past its own run's budget"),
    (_set("data", {"k": 3}), "unexpected data position"),
    (_set("opt_state", {"x": {}}), "optimizer state 'x'"),
    (_drop("elapsed"), "is incomplete: 'elapsed' is missing"),
    (_drop("param_groups"), "'param_groups' is missing"),
    (_tensor_edit(lambda t: t[:1]), "expected floating-point of shape"),
    (_tensor_edit(lambda t: t * float("nan")), "holds non-finite values"),
    (_extra_tensor, "belongs to no parameter"),
    (_step_tensor_high, "optimizer step of parameter"),
    (_missing_moment, "is incomplete"),
    (_negative_second_moment, "out of range"),
    (_short_generator, "data.gen"),
    (_lr_text, "optimizer group 0 has other settings"),
    (_group_sizes, "optimizer groups do not match"),
])
def test_hostile_trainer_state_is_refused(run, edit, message):
    _rewrite(latest_checkpoint(run) / "trainer.safetensors", edit)
    with pytest.raises(ModelFileError, match=message.replace("(", r"\(")):
        _resume(run)


@pytest.mark.parametrize("edit, message", [
    (lambda t, m: t.update({"rng.cpu": t["rng.cpu"][:17]}), "rng.cpu"),
    (lambda t, m: t.pop("rng.cpu"), "tensor 'rng.cpu' is missing"),
    (lambda t, m: m.update(rank=1), "belongs to rank 1"),
    (lambda t, m: t.update({"rng.cpu": t["rng.cpu"].float()}), "rng.cpu"),
])
def test_hostile_rank_state_is_refused(run, edit, message):
    _rewrite(latest_checkpoint(run) / "rank0.safetensors", edit)
    with pytest.raises(ModelFileError, match=message):
        _resume(run)


@pytest.mark.parametrize("edit, message", [
    (lambda t, m: t.update({"state": t["state"][:, :1]}), "has torch.float32"),
    (lambda t, m: t.update({"state": t["state"] * float("inf")}), "non-finite"),
    (lambda t, m: m.update(state_spec={"seq": []}), "state"),
    (lambda t, m: m.update(state_spec={"t": "nope"}), "is missing"),
])
def test_a_carried_state_that_does_not_fit_is_refused(carried_run, edit, message):
    _rewrite(latest_checkpoint(carried_run) / "rank0.safetensors", edit)
    with pytest.raises(ModelFileError, match=message):
        _resume(carried_run, carried=True)


def test_truncated_metadata_and_old_formats_are_clear_errors(run):
    from safetensors.numpy import save

    from decepticons.runtime.checkpoints import metadata_checksum

    f = latest_checkpoint(run) / "trainer.safetensors"
    md = {"format": "decepticons-train-checkpoint", "format_version": "2", "meta": '{"step": 4, "elap',
          "dtypes": "{}", "fingerprint": "0"}
    md["checksum"] = metadata_checksum(md)
    f.write_bytes(save({"_empty": np.zeros(0, np.uint8)}, metadata=md))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        _resume(run)
    f.write_bytes(save({"_empty": np.zeros(0, np.uint8)}, metadata={"format": "decepticons-train-checkpoint",
                                                                      "meta": "{}"}))
    with pytest.raises(ModelFileError, match="format version '1'; this version resumes version '2'"):
        _resume(run)
    f.write_bytes(f.read_bytes()[:40])
    with pytest.raises(ModelFileError, match="truncated|corrupted"):
        _resume(run)
    f.unlink()
    with pytest.raises(ModelFileError, match="not found"):
        _resume(run)


def test_the_model_file_of_a_checkpoint_is_verified(run):
    f = latest_checkpoint(run) / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-3])
    with pytest.raises(ModelFileError, match="truncated|corrupted"):
        _resume(run)


def test_the_latest_pointer_never_leads_outside_the_run(run, tmp_path):
    ck = run / "checkpoints"
    outside = tmp_path / "elsewhere"
    shutil.copytree(latest_checkpoint(run), outside / "step-00000004")
    for text in ("../../elsewhere/step-00000004", "/etc", "step-4/../..", "step-00000004\nx"):
        (ck / "latest").write_text(text)
        with pytest.raises(ModelFileError, match="does not name a checkpoint"):
            _resume(run)
    shutil.rmtree(ck / "step-00000004")
    os.symlink(outside / "step-00000004", ck / "step-00000004")
    (ck / "latest").write_text("step-00000004")
    with pytest.raises(ModelFileError, match="not a checkpoint folder inside"):
        _resume(run)
    os.unlink(ck / "step-00000004")
    (ck / "latest").unlink()
    os.symlink("/dev/zero", ck / "latest")
    with pytest.raises(ModelFileError, match="expected a regular file"):
        _resume(run)
    (ck / "latest").unlink()
    (ck / "latest").write_bytes(b"step-00000004" + b" " * 100)
    with pytest.raises(ModelFileError, match="more than the 64 allowed"):
        _resume(run)


def test_a_hostile_checkpoint_is_one_error_line_from_the_cli(tmp_path):
    data = tmp_path / "train.txt"
    data.write_bytes(corpus(30_000))
    run = tmp_path / "run"
    base = ["train", "--model", "causal-bank", "--config", "embed_dim=8", "--config", "num_modes=8", "--config",
            "num_oscillatory=2", "--config", "readout_hidden=16", "--config", "input_hidden=0", "--config",
            "local_window=2", "--batch-size", "4", "--seq-len", "32", "--config", "train.eval_every=0",
            "--config", "train.plot=false", "--input", str(data), "--run-dir", str(run)]
    assert run_cli([*base, "--steps", "3", "--quiet"], torch=True, mem=0).returncode == 0
    _rewrite(run / "checkpoints" / "step-00000003" / "trainer.safetensors", _set("step", -1))
    r = run_cli([*base, "--steps", "6", "--resume"], torch=True, mem=0)
    assert_user_error(r, "step = -1 is not allowed", seconds=120)
    assert (run / "checkpoints" / "latest").read_text() == "step-00000003"  # left as it was

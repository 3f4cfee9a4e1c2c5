"""Distillation through the shared trainer: alignment of teacher rows with training windows, the soft-target
objective, agreement diagnostics, checkpoints, and ``decepticons train --teacher``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from _torch_tiny import TinyConvPredictor  # noqa: E402
from decepticons import registry  # noqa: E402
from decepticons.adapters import BridgeExportAdapter, TeacherExportAdapter  # noqa: E402
from decepticons.cli import main  # noqa: E402
from decepticons.errors import InputError, ModelFileError  # noqa: E402
from decepticons.training import ByteDataset, TrainConfig, Trainer, train  # noqa: E402

P = np.array([0.5, 0.3, 0.2])


def markov(n: int, seed: int) -> np.ndarray:
    """Bytes ``a..h``; each next byte is the previous one plus 1, 2 or 3 (mod 8) with probabilities ``P``."""
    k = np.random.default_rng(seed).choice(3, size=n, p=P) + 1
    return (97 + np.cumsum(k) % 8).astype(np.uint8)


class TrueChain:
    """The source's exact conditional distribution (a causal teacher that knows the rule)."""

    def log_probs(self, x):
        x = np.asarray(x)
        out = np.full((len(x), 256), -40.0)
        prev = np.concatenate([[97], x[:-1]]).astype(int) - 97
        for j, p in enumerate(P):
            out[np.arange(len(x)), 97 + (prev + j + 1) % 8] = np.log(p)
        return out - np.log(np.exp(out).sum(1, keepdims=True))


class OneHot:
    """Row t is (almost) a one-hot of byte t + shift: shift 0 is the true next byte, 1 the byte before it."""

    def __init__(self, shift: int = 0) -> None:
        self.shift = shift

    def log_probs(self, x):
        x = np.asarray(x)
        out = np.full((len(x), 256), np.log(1e-6 / 255))
        out[np.arange(len(x)), np.roll(x, self.shift)] = np.log(1 - 1e-6)
        return out


TRAIN, VALID = markov(20_000, 0), markov(2_000, 1)
CFG = TrainConfig(max_steps=60, batch_size=8, seq_len=32, eval_every=0, eval_bytes=0, warmup_steps=2, lr=2e-2,
                  plot=False, seed=0)


def run(teacher=None, weight: float = 1.0, **cfg):
    rec = None if teacher is None else BridgeExportAdapter(teacher, top_k=8).export(TRAIN)
    student = TinyConvPredictor(seed=0, device="cpu")
    result = train(student, TRAIN, VALID, dataclasses.replace(CFG, teacher_weight=weight, **cfg), progress=False,
                   teacher=rec)
    return student, result


@pytest.fixture(scope="module")
def bytes_only():
    return run()


def test_window_rows_are_the_teachers_rows_of_the_predicted_bytes():
    rec = BridgeExportAdapter(OneHot(), top_k=1).export(TRAIN)
    offsets = np.array([0, 3, 1000, len(TRAIN) - 34])
    _, y = ByteDataset(TRAIN).windows(offsets, 32)
    idx, _, _ = rec.window_targets(offsets, 32)
    assert np.array_equal(idx[..., 0], y.numpy())  # position t of a window is paired with the byte it predicts


def test_a_one_hot_teacher_of_the_next_byte_trains_exactly_as_the_bytes(bytes_only):
    _, ref = bytes_only
    _, onehot = run(OneHot(0), weight=1.0)  # the teacher term alone
    assert onehot.valid_bits_per_byte == pytest.approx(ref.valid_bits_per_byte, abs=0.01)
    _, shifted = run(OneHot(1), weight=1.0)  # the same teacher one row off: the student learns the wrong byte
    assert shifted.valid_bits_per_byte > ref.valid_bits_per_byte + 2.0


def test_soft_targets_of_the_true_source_train_faster_than_the_bytes(bytes_only):
    _, ref = bytes_only
    _, soft = run(TrueChain(), weight=1.0)
    entropy = float(-(P * np.log2(P)).sum())  # 1.485 bits: the best any student can do
    assert entropy < soft.valid_bits_per_byte < ref.valid_bits_per_byte - 0.02
    # agreement is reported on the teacher's rows (the training bytes here: --valid is another corpus)
    assert soft.teacher["teacher_agreement_on"] == "train" and soft.teacher["teacher_top1_agreement"] > 0.95
    assert soft.teacher["teacher_kl_bits"] < 0.2
    assert ref.teacher is None and "teacher" not in ref.to_dict()


def test_weight_zero_is_the_bytes_objective_exactly(bytes_only):
    _, ref = bytes_only
    _, zero = run(TrueChain(), weight=0.0)
    assert [r["loss"] for r in zero.curve if "loss" in r] == [r["loss"] for r in ref.curve if "loss" in r]
    assert zero.valid_bits_per_byte == ref.valid_bits_per_byte


def test_the_distilled_student_stays_causal():
    student, _ = run(TrueChain(), weight=1.0, max_steps=5)
    x = VALID[:200].copy()
    base = student.log_probs(x)
    y = x.copy()
    y[120:] = np.uint8(ord("z"))
    assert np.array_equal(student.log_probs(y)[:121], base[:121])
    assert not np.array_equal(student.log_probs(y)[121:], base[121:])


def test_agreement_on_the_held_out_cut_of_the_teachers_corpus_and_in_evaluations():
    rec = BridgeExportAdapter(TrueChain(), top_k=8).export(TRAIN)
    cfg = dataclasses.replace(CFG, max_steps=10, eval_every=5, eval_bytes=1000, valid_fraction=0.1)
    tr = Trainer(TinyConvPredictor(seed=0, device="cpu"), TRAIN, None, cfg, progress=False, teacher=rec)
    assert tr.teacher_valid_start == 18_000
    result = tr.run()
    evals = [r for r in result.curve if "valid_bpb" in r]
    assert [r["step"] for r in evals] == [5, 10]
    assert all(r["teacher_agreement_on"] == "valid" and r["teacher_positions"] == 1000 for r in evals)
    assert result.teacher == {k: evals[-1][k] for k in result.teacher}
    assert all(r["teacher_kl"] >= 0 for r in result.curve if "teacher_kl" in r)


def test_mismatched_teachers_are_refused():
    rec = BridgeExportAdapter(TrueChain(), top_k=4).export(TRAIN[:-1])
    with pytest.raises(InputError, match="covers 19,999 bytes"):
        Trainer(TinyConvPredictor(seed=0, device="cpu"), TRAIN, VALID, CFG, teacher=rec)
    with pytest.raises(InputError, match="window_targets"):
        Trainer(TinyConvPredictor(seed=0, device="cpu"), TRAIN, VALID, CFG, teacher=object())  # type: ignore[arg-type]
    with pytest.raises(InputError, match="teacher_weight"):
        TrainConfig(teacher_weight=1.5)


def test_resume_with_a_teacher_reproduces_the_run_and_refuses_another_teacher(tmp_path):
    rec = BridgeExportAdapter(TrueChain(), top_k=4).export(TRAIN)
    cfg = dataclasses.replace(CFG, max_steps=8, checkpoint_every=4, checkpoint_seconds=None, log_every=1)
    whole = train(TinyConvPredictor(seed=0, device="cpu"), TRAIN, VALID, cfg, progress=False, teacher=rec)

    def stop(step, record):
        if step == 6:
            raise KeyboardInterrupt  # a kill in the middle of the run, after the checkpoint of step 4

    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(TinyConvPredictor(seed=0, device="cpu"), TRAIN, VALID, cfg, run_dir=run_dir, progress=False,
              teacher=rec, callback=stop)
    for other, c in ((None, cfg), (rec, dataclasses.replace(cfg, teacher_weight=0.25))):
        with pytest.raises(ModelFileError, match="teacher"):
            train(TinyConvPredictor(seed=0, device="cpu"), TRAIN, VALID, c, run_dir=run_dir, resume=True,
                  progress=False, teacher=other)
    resumed = train(TinyConvPredictor(seed=0, device="cpu"), TRAIN, VALID, cfg, run_dir=run_dir, resume=True,
                    progress=False, teacher=rec)
    key = [(r["step"], r["loss"], r["teacher_kl"]) for r in whole.curve if "loss" in r]
    assert len(key) == 8 and [(r["step"], r["loss"], r["teacher_kl"]) for r in resumed.curve if "loss" in r] == key
    assert resumed.valid_bits_per_byte == whole.valid_bits_per_byte


def test_the_paired_adapter_exports_distils_and_compares():
    pair = TeacherExportAdapter(TrueChain(), top_k=8, weight=1.0, compare_bytes=1000)
    student = TinyConvPredictor(seed=0, device="cpu")
    result = pair.distill(student, TRAIN, VALID, dataclasses.replace(CFG, max_steps=30), progress=False)
    assert result.teacher is not None
    cmp = pair.compare(student, VALID)
    assert cmp["teacher_positions"] == 1000
    assert cmp["teacher_bits_per_byte"] == pytest.approx(1.485, abs=0.1)
    assert cmp["student_bits_per_byte"] == pytest.approx(student.score(VALID[:1000]).bits_per_byte)
    assert 0 <= cmp["teacher_kl_bits"] and 0 <= cmp["teacher_top1_agreement"] <= 1
    with pytest.raises(InputError, match="weight"):
        TeacherExportAdapter(TrueChain(), weight=2.0)
    with pytest.raises(InputError, match="torch predictor"):
        pair.distill(object(), TRAIN)


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._BUILTIN, "tiny-conv", "_torch_tiny:TinyConvPredictor")
    tr, va = tmp_path / "train.txt", tmp_path / "valid.txt"
    tr.write_bytes(TRAIN.tobytes())
    va.write_bytes(VALID.tobytes())
    bridge = tmp_path / "t.bridge"
    BridgeExportAdapter(TrueChain(), top_k=8).export(TRAIN, bridge)
    return tmp_path, str(tr), str(va), str(bridge)


FAST = ["--batch-size", "8", "--seq-len", "32", "--config", "train.eval_bytes=512", "--config",
        "train.warmup_steps=2"]


def test_train_command_with_a_teacher(files, capsys):
    tmp, tr, va, bridge = files
    model = str(tmp / "m.safetensors")
    assert main(["train", "--model", "tiny-conv", "--input", tr, "--valid", va, "--steps", "6", "--teacher", bridge,
                 "--teacher-weight", "0.7", "--save", model, "--json", "--run-dir", str(tmp / "run"), *FAST]) == 0
    out = json.loads(capsys.readouterr().out)["train"]
    assert out["teacher"]["teacher_positions"] > 0 and out["steps"] == 6
    cfg = json.loads((tmp / "run" / "train_config.json").read_text())["train_config"]
    assert cfg["teacher_weight"] == 0.7
    head = tmp / "head.txt"
    head.write_bytes(VALID[:512].tobytes())  # the trainer evaluates on the first eval_bytes
    assert main(["score", "--load", model, "--input", str(head), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"]["bits_per_byte"] == out["valid_bits_per_byte"]


@pytest.mark.parametrize("extra, message", [
    (["--teacher-weight", "0.5"], "give --teacher"),
    (["--config", "train.teacher_temperature=2"], "give --teacher"),
    (["--teacher", "{bridge}", "--teacher-weight", "1.5"], "teacher_weight"),
    (["--teacher", "{bridge}", "--input", "{valid}"], "covers 20,000 bytes"),
    (["--teacher", "{model}"], "not a decepticons bridge file"),
    (["--teacher", "{tmp}/missing.bridge"], "missing.bridge"),
])
def test_train_teacher_mistakes_are_one_error_line(files, capsys, extra, message):
    tmp, tr, va, bridge = files
    model = tmp / "model.safetensors"
    TinyConvPredictor(seed=0).save(model)
    fill = {"bridge": bridge, "valid": va, "model": str(model), "tmp": str(tmp)}
    argv = ["train", "--model", "tiny-conv", "--input", tr, "--steps", "2", *FAST]
    argv += [a.format(**fill) for a in extra]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("decepticons train: error:") and message in err[0], err


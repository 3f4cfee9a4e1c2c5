"""The shared torch trainer: schedule, clipping, evaluation, budgets, checkpoints, train modes, logs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_tiny import TinyConvPredictor, TinyGRUPredictor, corpus  # noqa: E402
from decepticons.errors import InputError, ModelFileError  # noqa: E402
from decepticons.training import (  # noqa: E402
    ByteDataset,
    CarriedWindows,
    TrainConfig,
    Trainer,
    clip_gradients,
    evaluate,
    latest_checkpoint,
    lr_at,
    parameter_groups,
    read_metrics,
    train,
)

DATA = corpus(24_000)
VALID = corpus(3_000, seed=1)


def small(**kw) -> TrainConfig:
    base = dict(batch_size=4, seq_len=32, lr=1e-2, warmup_steps=3, max_steps=12, eval_every=0,
                eval_bytes=1024, log_every=1, checkpoint_seconds=None, plot=False)
    base.update(kw)
    return TrainConfig(**base)


# ------------------------------------------------------------------------------------------ schedule
def test_lr_schedule_warmup_then_cosine_to_min_lr():
    cfg = TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=4, max_steps=24)
    assert [lr_at(cfg, s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lr_at(cfg, 4) == pytest.approx(1.0)
    assert lr_at(cfg, 14) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the decay
    assert lr_at(cfg, 24) == pytest.approx(0.1)
    lrs = [lr_at(cfg, s) for s in range(4, 25)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    # a time budget drives the cosine by elapsed seconds
    tb = TrainConfig(lr=1.0, warmup_steps=0, budget_seconds=10.0)
    assert lr_at(tb, 100, elapsed=5.0) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_at(tb, 100, elapsed=10.0) == pytest.approx(0.1)


def test_gradient_clipping_caps_global_norm():
    ps = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 2))]
    ps[0].grad = torch.tensor([3.0, 0.0, 0.0])
    ps[1].grad = torch.full((2, 2), 2.0)
    before = clip_gradients(ps, 1.0)
    assert before == pytest.approx(5.0)
    after = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in ps))
    assert after == pytest.approx(1.0, rel=1e-5)
    assert clip_gradients(ps, None) == pytest.approx(1.0, rel=1e-5)  # no clipping: norm only


def test_parameter_groups_spare_norms_biases_and_embeddings():
    m = TinyConvPredictor().module
    groups = parameter_groups(m, 0.1)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert id(m.conv.weight) in decayed and id(m.out.weight) in decayed
    for p in (m.emb.weight, m.conv.bias, m.norm.weight, m.norm.bias, m.out.bias):
        assert id(p) not in decayed


# ------------------------------------------------------------------------------------------ evaluation
def test_eval_bits_per_byte_agrees_with_score():
    x = np.frombuffer(VALID[:700], dtype=np.uint8)
    for p in (TinyConvPredictor(seed=3), TinyGRUPredictor(seed=3)):
        assert evaluate(p, x) == p.score(x).bits_per_byte
    # a windowed predictor is evaluated through its windows too
    gru = TinyGRUPredictor(seed=3)
    gru.scores_in_train_window, gru.train_window = True, 64
    assert evaluate(gru, x) == gru.score(x).bits_per_byte


def test_the_trainer_records_what_it_trained_for(tmp_path):
    p = TinyConvPredictor(seed=0)
    train(p, DATA, VALID, small(max_steps=2))
    assert (p.train_window, p.train_mode) == (32, "detached")
    q = TinyGRUPredictor(seed=0)
    train(q, DATA, VALID, small(max_steps=2, mode="carried"))
    assert (q.train_window, q.train_mode) == (None, "carried")
    q.save(tmp_path / "q.safetensors")
    r = TinyGRUPredictor.load(tmp_path / "q.safetensors")
    assert (r.train_window, r.train_mode, r.window) == (None, "carried", None)


# ------------------------------------------------------------------------------------------ runs
def test_training_learns_and_writes_metrics_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    p = TinyConvPredictor(seed=0)
    before = evaluate(p, VALID[:1024])
    res = train(p, DATA, VALID, small(max_steps=40, eval_every=20, plot=True, lr=2e-2), run_dir=tmp_path)
    assert res.steps == 40 and res.stop_reason == "steps"
    assert res.valid_bits_per_byte < before - 1.0
    recs = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in recs if "loss" in r] == list(range(1, 41))
    assert [r["step"] for r in recs if "valid_bpb" in r] == [20, 40]
    assert all(np.isfinite(r["grad_norm"]) and r["lr"] > 0 for r in recs if "loss" in r)
    png = tmp_path / "learning_curve.png"
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"
    assert latest_checkpoint(tmp_path) is not None
    assert json.loads((tmp_path / "train_config.json").read_text())["model"] == "tiny-conv"


def test_wall_clock_budget_stops_the_run():
    res = train(TinyConvPredictor(), DATA, VALID, small(max_steps=None, budget_seconds=0.4))
    assert res.stop_reason == "budget"
    assert res.steps > 0
    assert 0.2 <= res.seconds < 1.4  # the budget includes the final evaluation (tests/test_train_budget.py)


def _run(pred_cls, cfg, run_dir, resume=False, stop_at=None, dropout=0.0):
    p = pred_cls(seed=5, dropout=dropout)

    def cb(step, rec):
        if stop_at is not None and step == stop_at:
            raise KeyboardInterrupt  # a kill in the middle of the run

    res = train(p, DATA, VALID, cfg, run_dir=run_dir, resume=resume, callback=cb)
    return p, res


@pytest.mark.parametrize("kind", ["detached-dropout", "carried-slow"])
def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path, kind):
    if kind == "detached-dropout":
        cls, cfg, drop = TinyConvPredictor, small(max_steps=14, checkpoint_every=5, eval_every=7), 0.2
    else:
        cls, drop = TinyGRUPredictor, 0.0
        cfg = small(max_steps=14, checkpoint_every=5, eval_every=7, mode="carried", slow_every=3, seq_len=16)
    full, _ = _run(cls, cfg, tmp_path / "a", dropout=drop)
    with pytest.raises(KeyboardInterrupt):
        _run(cls, cfg, tmp_path / "b", stop_at=12, dropout=drop)
    assert latest_checkpoint(tmp_path / "b").name == "step-00000010"
    resumed, res = _run(cls, cfg, tmp_path / "b", resume=True, dropout=drop)
    assert res.steps == 14
    a = read_metrics(tmp_path / "a" / "metrics.jsonl")
    b = read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert [(r["step"], r["loss"]) for r in a if "loss" in r] == [(r["step"], r["loss"]) for r in b if "loss" in r]
    assert [(r["step"], r["valid_bpb"]) for r in a if "valid_bpb" in r] == \
        [(r["step"], r["valid_bpb"]) for r in b if "valid_bpb" in r]
    for (k, va), (_, vb) in zip(full.module.state_dict().items(), resumed.module.state_dict().items()):
        assert torch.equal(va, vb), k


def test_checkpoint_of_another_config_is_refused(tmp_path):
    train(TinyConvPredictor(width=16), DATA, VALID, small(max_steps=3), run_dir=tmp_path)
    with pytest.raises(ModelFileError, match="different model configuration.*width"):
        train(TinyConvPredictor(width=8), DATA, VALID, small(max_steps=6), run_dir=tmp_path, resume=True)
    with pytest.raises(ModelFileError, match="other training settings.*seq_len"):
        train(TinyConvPredictor(width=16), DATA, VALID, small(max_steps=6, seq_len=16), run_dir=tmp_path,
              resume=True)
    with pytest.raises(ModelFileError, match="no checkpoint"):
        train(TinyConvPredictor(), DATA, VALID, small(), run_dir=tmp_path / "empty", resume=True)


# ------------------------------------------------------------------------------------------ train modes
def _carried_losses(data: bytes, steps: int) -> list[float]:
    p = TinyGRUPredictor(seed=2)
    cfg = small(mode="carried", max_steps=steps, lr=1e-12, min_lr=0.0, warmup_steps=0, weight_decay=0.0,
                seq_len=16, batch_size=3)
    losses: list[float] = []
    train(p, data, VALID, cfg, callback=lambda s, r: losses.append(r["loss"]))
    return losses


def test_carried_state_equals_one_long_pass_and_is_causal():
    data = DATA[:3000]
    steps, L, B = 4, 16, 3
    losses = _carried_losses(data, steps)
    # the same weights (lr ~ 0) over each stream's whole prefix in one pass give the same losses
    p = TinyGRUPredictor(seed=2)
    arr = torch.tensor(list(data), dtype=torch.long)
    seg = len(data) // B
    with torch.no_grad():
        xs = torch.stack([arr[b * seg: b * seg + steps * L] for b in range(B)])
        ys = torch.stack([arr[b * seg + 1: b * seg + steps * L + 1] for b in range(B)])
        lp = torch.log_softmax(p.module(xs), -1).gather(-1, ys[..., None])[..., 0]
    expect = [float(-lp[:, k * L:(k + 1) * L].mean()) for k in range(steps)]
    assert losses == pytest.approx(expect, abs=1e-5)
    # causal: bytes after window k's targets cannot change the loss of window k
    k = 1
    pert = bytearray(data)
    rng = np.random.default_rng(0)
    for b in range(B):
        lo = b * seg + (k + 1) * L + 1
        pert[lo:(b + 1) * seg] = rng.integers(0, 256, (b + 1) * seg - lo, dtype=np.uint8).tobytes()
    other = _carried_losses(bytes(pert), steps)
    assert other[:k + 1] == losses[:k + 1]
    assert other[k + 1:] != losses[k + 1:]


def test_carried_streams_restart_at_segment_end():
    cw = CarriedWindows(ByteDataset(bytes(200)), batch_size=2, seq_len=30)  # segments of 100: 3 windows
    seen = [cw.next_offsets() for _ in range(4)]
    assert [list(o) for o, _ in seen] == [[0, 100], [30, 130], [60, 160], [0, 100]]
    assert [r for _, r in seen] == [True, False, False, True]


def test_sparse_slow_updates_step_every_k():
    p = TinyGRUPredictor(seed=1)
    snaps = []
    cfg = small(slow_every=3, max_steps=6, mode="carried", seq_len=16)
    train(p, DATA, VALID, cfg,
          callback=lambda s, r: snaps.append((p.module.emb.weight.detach().clone(),
                                              p.module.out.weight.detach().clone())))
    emb0 = TinyGRUPredictor(seed=1).module.emb.weight
    changed = [not torch.equal(e, emb0 if i == 0 else snaps[i - 1][0]) for i, (e, _) in enumerate(snaps)]
    assert changed == [False, False, True, False, False, True]
    assert all(not torch.equal(snaps[i][1], snaps[i + 1][1]) for i in range(5))  # fast weights every step
    with pytest.raises(InputError, match="match no parameter"):
        train(TinyConvPredictor(), DATA, VALID, small(slow_every=2, slow_params=("nothing*",)))


def test_hooks_are_protocols_and_after_optimizer_step_follows_every_step():
    from decepticons.training.hooks import AfterOptimizerStep, ExtraLoss, StatefulModule, TrainingProgress

    p = TinyConvPredictor(seed=0)
    assert isinstance(p.module, ExtraLoss) and not isinstance(p.module, StatefulModule)
    assert isinstance(TinyGRUPredictor().module, StatefulModule)
    w0 = p.module.out.weight.detach().clone()
    seen, progress = [], []
    p.module.after_optimizer_step = lambda: seen.append(p.module.out.weight.detach().clone())
    p.module.set_training_progress = progress.append
    assert isinstance(p.module, AfterOptimizerStep) and isinstance(p.module, TrainingProgress)
    train(p, DATA, VALID, small(max_steps=5))
    assert len(seen) == 5 and not torch.equal(seen[0], w0)  # called after the step, once per step
    assert progress == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])


# ------------------------------------------------------------------------------------------ errors, fit
def test_bad_settings_raise_clear_errors():
    with pytest.raises(InputError, match="TrainConfig.mode"):
        TrainConfig(mode="sideways")
    with pytest.raises(InputError, match="unknown TrainConfig option"):
        TrainConfig.from_dict({"lr": 1e-3, "learning_rate": 1})
    for bad in (dict(lr=float("nan")), dict(lr=float("inf")), dict(grad_clip=float("nan")), dict(lr=0.0),
                dict(min_lr=1.0, lr=0.1), dict(beta2=1.0), dict(batch_size=0), dict(seq_len=2.5),
                dict(budget_seconds=float("inf")), dict(amp="yes"), dict(slow_params=("a", 3))):
        with pytest.raises(InputError, match="TrainConfig"):
            TrainConfig(**bad)
    assert TrainConfig(slow_params=["a*"]).slow_params == ("a*",)
    with pytest.raises(InputError, match="forward_with_state"):
        train(TinyConvPredictor(), DATA, VALID, small(mode="carried"))
    with pytest.raises(InputError, match="need more than"):
        train(TinyConvPredictor(), DATA[:20], VALID, small())
    with pytest.raises(InputError, match="budget"):
        train(TinyConvPredictor(), DATA, VALID, small(max_steps=None))
    with pytest.raises(InputError, match="slow_params"):
        Trainer(TinyConvPredictor(), DATA, VALID, small(slow_every=2))


def test_fit_trains_and_the_model_round_trips(tmp_path):
    p = TinyConvPredictor(seed=0)
    rep = p.fit(DATA, valid=VALID, max_steps=15, batch_size=4, seq_len=32, eval_bytes=1024)
    assert rep.model == "tiny-conv" and rep.valid_bits_per_byte < 8.0
    assert rep.details["steps"] == 15
    path = tmp_path / "m.safetensors"
    p.save(path)
    q = TinyConvPredictor.load(path)
    np.testing.assert_array_equal(p.log_probs(VALID[:200]), q.log_probs(VALID[:200]))


def test_hard_kill_then_resume_matches_the_uninterrupted_run(tmp_path):
    """SIGKILL in the middle of a run (no cleanup at all), then resume in another process."""
    import signal
    import subprocess
    import sys
    import textwrap

    if not hasattr(signal, "SIGKILL"):
        pytest.skip("no SIGKILL on this platform")
    cfg = dict(max_steps=16, checkpoint_every=4, eval_every=8, mode="carried", seq_len=16)
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import torch
        torch.set_num_threads({torch.get_num_threads()})
        from _torch_tiny import TinyGRUPredictor, corpus
        from decepticons.training import TrainConfig, train
        def cb(step, rec):
            if step == 11:
                os.kill(os.getpid(), signal.SIGKILL)
        cfg = TrainConfig(**{dict(batch_size=4, lr=1e-2, warmup_steps=3, eval_bytes=1024, log_every=1,
                                  checkpoint_seconds=None, plot=False, **cfg)!r})
        train(TinyGRUPredictor(seed=5), corpus(24_000), corpus(3_000, seed=1), cfg,
              run_dir={str(tmp_path / "b")!r}, callback=cb)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert latest_checkpoint(tmp_path / "b").name == "step-00000008"
    full, _ = _run(TinyGRUPredictor, small(**cfg), tmp_path / "a")
    resumed, res = _run(TinyGRUPredictor, small(**cfg), tmp_path / "b", resume=True)
    a = read_metrics(tmp_path / "a" / "metrics.jsonl")
    b = read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert [(r["step"], r.get("loss"), r.get("valid_bpb")) for r in a] == \
        [(r["step"], r.get("loss"), r.get("valid_bpb")) for r in b]
    for (k, va), (_, vb) in zip(full.module.state_dict().items(), resumed.module.state_dict().items()):
        assert torch.equal(va, vb), k

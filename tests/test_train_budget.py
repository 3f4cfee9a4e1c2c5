"""Time budgets include the final evaluation; warm-up scales with short budgets; TensorBoard scalars."""

from __future__ import annotations

import importlib.util
import json
import time

import pytest

torch = pytest.importorskip("torch")

from _torch_tiny import TinyConvPredictor, corpus  # noqa: E402
from decepticons import registry  # noqa: E402
from decepticons.cli import main  # noqa: E402
from decepticons.predictor import LN2  # noqa: E402
from decepticons.training import TrainConfig, lr_at, train  # noqa: E402
from decepticons.training.tensorboard import TensorBoardLogger  # noqa: E402

DATA = corpus(24_000)
# the first optimizer of a process imports torch's compiler stack (seconds): a budget counts it, as it counts
# everything of the run, so it is paid here once, before any timed run
torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
#: seconds of scoring per byte added by :class:`SlowScoring`: evaluation dominates a short run, as it does for
#: a large model on a big held-out file (and sleeping keeps the test off the shared CPU)
SLOW = 2e-5


class SlowScoring(TinyConvPredictor):
    """The tiny convolution with an evaluation that costs ``SLOW`` seconds per byte."""

    name = "tiny-slow"

    def score(self, data, trace=False, progress=None):
        time.sleep(SLOW * len(data))
        return super().score(data, trace=trace, progress=progress)


def small(**kw) -> TrainConfig:
    base = dict(batch_size=4, seq_len=32, lr=1e-2, warmup_steps=3, eval_every=0, eval_bytes=0, log_every=1,
                checkpoint_seconds=None, plot=False)
    base.update(kw)
    return TrainConfig(**base)


def _timed_train(*args, **kw):
    t0 = time.perf_counter()
    res = train(*args, **kw)
    return res, time.perf_counter() - t0


# ------------------------------------------------------------------------------------------ budget
def test_budget_caps_a_final_evaluation_that_would_not_fit():
    valid = corpus(200_000, seed=1)  # 4 s of scoring, twice the budget; training-set scoring adds 0.5 s
    res, wall = _timed_train(SlowScoring(), DATA, valid, small(budget_seconds=2.0))
    assert wall < 2.0 + 1.5  # before the rule: about 6.5 s
    assert res.stop_reason == "budget" and res.steps > 0
    assert res.valid_capped and 256 <= res.valid_bytes < 200_000
    assert res.eval_seconds <= 0.5 * 2.0 + 0.5  # budget_eval_share of the budget, with margin
    assert res.seconds <= wall and res.valid_bits_per_byte > 0


def test_budget_reserves_time_for_a_final_evaluation_that_fits():
    valid = corpus(20_000, seed=1)
    # 0.2 s of held-out scoring + 0.2 s of training-set scoring: well inside the share (2 s) of the budget
    cfg = small(budget_seconds=4.0, eval_bytes=10_000, warmup_steps=10**6)
    res, wall = _timed_train(SlowScoring(), DATA, valid, cfg)
    assert wall < 4.0 + 1.5
    assert res.stop_reason == "budget" and not res.valid_capped and res.valid_bytes == 10_000
    assert res.eval_seconds > 0.3  # the final phase really ran inside the budget
    lrs = [r["lr"] for r in res.curve if "lr" in r]
    # a million warm-up steps cannot be reached: the warm-up ends after warmup_fraction of the time instead,
    # and the cosine ends where training stops (the budget less the final evaluation)
    assert max(lrs) > 0.9 * 1e-2
    assert lrs[-1] < 0.3 * 1e-2


def test_a_step_budget_keeps_the_whole_final_evaluation():
    valid = corpus(30_000, seed=1)
    res = train(TinyConvPredictor(seed=1), DATA, valid, small(max_steps=3))
    assert res.stop_reason == "steps" and not res.valid_capped and res.valid_bytes == 30_000


def test_cli_budget_includes_the_final_evaluation(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(registry._BUILTIN, "tiny-slow", "test_train_budget:SlowScoring")
    tr, va = tmp_path / "train.txt", tmp_path / "valid.txt"
    tr.write_bytes(DATA)
    va.write_bytes(corpus(150_000, seed=1))
    t0 = time.perf_counter()
    assert main(["train", "--model", "tiny-slow", "--input", str(tr), "--valid", str(va), "--budget", "2s",
                 "--batch-size", "4", "--seq-len", "32", "--config", "train.eval_bytes=0", "--json"]) == 0
    wall = time.perf_counter() - t0
    out = json.loads(capsys.readouterr().out)["train"]
    assert wall < 2.0 + 2.0  # the command, model construction and file reads included
    assert out["stop_reason"] == "budget" and out["valid_capped"] and out["valid_bytes"] < 150_000


# ------------------------------------------------------------------------------------------ warm-up
def test_warmup_is_a_fraction_of_a_short_time_budget():
    cfg = TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=1000, warmup_fraction=0.1, budget_seconds=10.0)

    def cosine(p):
        return 0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * p)).item())

    assert lr_at(cfg, 5, elapsed=0.5) == pytest.approx(0.5)  # half of the 1 s (10 %) warm-up
    assert lr_at(cfg, 5, elapsed=0.0) == pytest.approx(6 / 1000)  # the step ramp still counts
    assert lr_at(cfg, 5, elapsed=2.0) == pytest.approx(cosine(0.2))  # warm-up over: on the cosine
    assert lr_at(cfg, 5, elapsed=0.5, horizon=5.0) == pytest.approx(cosine(0.1))  # a shorter training time
    lrs = [lr_at(cfg, s, elapsed=s / 100) for s in range(0, 1000)]
    assert max(lrs) == pytest.approx(cosine(0.1), rel=1e-3)  # continuous hand-over, no jump above the cosine
    # a long budget keeps the configured step warm-up (it ends first)
    long = TrainConfig(lr=1.0, warmup_steps=4, budget_seconds=3600.0)
    assert [lr_at(long, s, elapsed=s * 0.01) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0], rel=1e-6)


def test_step_budgets_keep_the_step_warmup():
    for frac in (0.0, 0.05, 1.0):
        cfg = TrainConfig(lr=1.0, warmup_steps=1000, warmup_fraction=frac, max_steps=100)
        assert [lr_at(cfg, s, elapsed=99.0) for s in (0, 9, 99)] == [1.0 * 1 / 1000, 1.0 * 10 / 1000,
                                                                       1.0 * 100 / 1000]
    off = TrainConfig(lr=1.0, warmup_steps=1000, warmup_fraction=0.0, budget_seconds=10.0)
    assert lr_at(off, 9, elapsed=5.0) == 1.0 * 10 / 1000


# ------------------------------------------------------------------------------------------ tensorboard
class FakeWriter:
    def __init__(self):
        self.scalars: dict[str, list[tuple[int, float]]] = {}
        self.closed = False

    def add_scalar(self, tag, value, step):
        self.scalars.setdefault(tag, []).append((step, value))

    def close(self):
        self.closed = True


def test_tensorboard_logger_gets_loss_in_bits_lr_and_held_out_bits():
    w = FakeWriter()
    logger = TensorBoardLogger(writer=w)
    res = train(TinyConvPredictor(seed=2), DATA, corpus(2_000, seed=1),
                small(max_steps=6, eval_every=3, eval_bytes=512), callback=logger)
    logger.close()
    steps = [r for r in res.curve if "loss" in r]
    assert w.scalars["train/loss_bits_per_byte"] == [(r["step"], pytest.approx(r["loss"] / LN2)) for r in steps]
    assert w.scalars["train/lr"] == [(r["step"], r["lr"]) for r in steps]
    assert [s for s, _ in w.scalars["valid/bits_per_byte"]] == [3, 6]
    assert w.scalars["valid/bits_per_byte"][-1][1] == res.valid_bits_per_byte
    assert w.closed


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._BUILTIN, "tiny-conv", "_torch_tiny:TinyConvPredictor")
    tr = tmp_path / "train.txt"
    tr.write_bytes(DATA)
    return tmp_path, str(tr)


CLI = ["--steps", "4", "--batch-size", "4", "--seq-len", "32", "--config", "train.eval_bytes=512",
       "--config", "train.eval_every=2", "--quiet"]


def test_tensorboard_without_the_package_is_one_error_line(files, monkeypatch, capsys):
    import decepticons.training.tensorboard as tb

    monkeypatch.setattr(tb, "tensorboard_available", lambda: False)
    tmp, tr = files
    assert main(["train", "--model", "tiny-conv", "--input", tr, "--tensorboard", str(tmp / "tb"), *CLI]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and len(err.strip().splitlines()) == 1
    assert "pip install tensorboard" in err
    assert not (tmp / "tb").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_tensorboard_cli_writes_the_scalars(files):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tmp, tr = files
    assert main(["train", "--model", "tiny-conv", "--input", tr, "--tensorboard", str(tmp / "tb"), *CLI]) == 0
    acc = EventAccumulator(str(tmp / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss_bits_per_byte", "train/lr", "valid/bits_per_byte"} <= tags
    assert [e.step for e in acc.Scalars("valid/bits_per_byte")] == [2, 4]
    assert all(0 < e.value < 12 for e in acc.Scalars("train/loss_bits_per_byte"))

"""Step and token budgets: the run follows the step count only, so the machine's load cannot change it."""

from __future__ import annotations

import json
import time

import pytest

torch = pytest.importorskip("torch")

from _torch_tiny import TinyConvPredictor, corpus  # noqa: E402
from decepticons import registry  # noqa: E402
from decepticons.cli import main  # noqa: E402
from decepticons.errors import InputError  # noqa: E402
from decepticons.training import TrainConfig, lr_at, train  # noqa: E402
from decepticons.training.cli import parse_tokens  # noqa: E402
from decepticons.training.schedule import run_progress  # noqa: E402

DATA = corpus(24_000)
VALID = corpus(3_000, seed=1)


def _config(**kw) -> TrainConfig:
    base = dict(batch_size=4, seq_len=32, lr=1e-2, warmup_steps=5, warmup_fraction=0.5, eval_every=4,
                eval_bytes=1_000, log_every=1, checkpoint_seconds=None, plot=False, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _run(cfg: TrainConfig, delay: float = 0.0):
    model = TinyConvPredictor(seed=1)

    def slow(step, rec):  # a loaded machine: every step takes longer
        time.sleep(delay)

    res = train(model, DATA, VALID, cfg, callback=slow if delay else None)
    weights = {k: v.detach().clone() for k, v in model.module.state_dict().items()}
    curve = [{k: v for k, v in r.items() if k not in ("elapsed", "tokens_per_s")} for r in res.curve]
    return res, curve, weights


@pytest.mark.parametrize("budget", [dict(max_steps=24), dict(max_tokens=24 * 4 * 32 - 100)])
def test_a_slowed_run_gives_the_same_curve_and_weights(budget):
    # a time budget given as well (long enough not to stop the run) must not bend the schedule
    cfg = _config(budget_seconds=600.0, **budget)
    fast, fast_curve, fast_w = _run(cfg)
    slow, slow_curve, slow_w = _run(cfg, delay=0.02)
    assert slow.seconds >= 24 * 0.02  # really slowed down: 20 ms more per step
    assert fast.steps == slow.steps == 24 and fast.tokens == slow.tokens == 24 * 4 * 32
    assert fast.stop_reason == slow.stop_reason == ("steps" if "max_steps" in budget else "tokens")
    assert fast_curve == slow_curve  # losses, learning rates, gradient norms, evaluation points and values
    assert [r["step"] for r in fast_curve if "valid_bpb" in r] == [4, 8, 12, 16, 20, 24]
    assert fast_w.keys() == slow_w.keys()
    assert all(torch.equal(fast_w[k], slow_w[k]) for k in fast_w)
    lrs = [r["lr"] for r in fast_curve if "lr" in r]
    assert lrs[:5] == pytest.approx([1e-2 * (s + 1) / 5 for s in range(5)])  # the step warm-up, not the clock's
    assert lrs[-1] < 0.2 * 1e-2  # the cosine ends at the step budget


def test_a_different_seed_gives_a_different_curve():
    _, a, _ = _run(_config(max_steps=8))
    _, b, _ = _run(_config(max_steps=8, seed=4))
    assert [r["loss"] for r in a if "loss" in r] != [r["loss"] for r in b if "loss" in r]


def test_the_schedule_ignores_the_clock_under_a_step_or_token_budget():
    for cfg in (TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110, budget_seconds=10.0),
                TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_tokens=110 * 16 * 256, budget_seconds=10.0)):
        assert cfg.step_budget == 110
        for step in (0, 5, 60, 109):
            assert lr_at(cfg, step, elapsed=0.0) == lr_at(cfg, step, elapsed=9.9, horizon=5.0)
            assert run_progress(cfg, step, 0.0) == run_progress(cfg, step, 9.9, 5.0) == step / 110
        assert lr_at(cfg, 60, elapsed=9.9) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + torch.cos(
            torch.tensor(torch.pi * 0.5)).item()))
    # a time budget alone still drives the schedule by the clock
    timed = TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, budget_seconds=10.0)
    assert timed.step_budget is None and lr_at(timed, 60, elapsed=9.9) < lr_at(timed, 60, elapsed=1.0)


def test_token_budgets_round_up_to_whole_steps_and_take_the_smaller_budget():
    assert TrainConfig(batch_size=4, seq_len=32, max_tokens=1).step_budget == 1
    assert TrainConfig(batch_size=4, seq_len=32, max_tokens=128).step_budget == 1
    assert TrainConfig(batch_size=4, seq_len=32, max_tokens=129).step_budget == 2
    assert TrainConfig(batch_size=4, seq_len=32, max_tokens=1280, max_steps=3).step_budget == 3
    assert TrainConfig(batch_size=4, seq_len=32, max_tokens=256, max_steps=3).step_budget == 2
    assert TrainConfig().step_budget is None


@pytest.mark.parametrize("text,value", [("500k", 500_000), ("28M", 28_000_000), ("1.5e7", 15_000_000),
                                        ("2000", 2000), ("2.5k", 2500), ("1g", 10**9)])
def test_parse_tokens(text, value):
    assert parse_tokens(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "10 tokens", "1e99", "5x"])
def test_parse_tokens_refuses_nonsense(text):
    with pytest.raises(InputError):
        parse_tokens(text)


@pytest.fixture
def tiny_cli(monkeypatch):
    monkeypatch.setitem(registry._BUILTIN, "tiny-conv", "_torch_tiny:TinyConvPredictor")


def test_cli_tokens_reports_tokens_and_seconds(tmp_path, capsys, tiny_cli):
    tr, va = tmp_path / "train.txt", tmp_path / "valid.txt"
    tr.write_bytes(DATA)
    va.write_bytes(VALID)
    assert main(["train", "--model", "tiny-conv", "--input", str(tr), "--valid", str(va), "--tokens", "1k",
                 "--batch-size", "4", "--seq-len", "32", "--run-dir", str(tmp_path / "run"), "--config",
                 "train.plot=false", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["train"]
    assert out["steps"] == 8 and out["tokens"] == 1024 and out["stop_reason"] == "tokens"
    assert out["seconds"] > 0 and out["cpu_seconds"] > 0
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("tokens" in r and "elapsed" in r for r in lines)
    assert lines[-1]["tokens"] == 1024 and "valid_bpb" in lines[-1]


def test_cli_bad_tokens_is_one_error_line(tmp_path, capsys, tiny_cli):
    tr = tmp_path / "train.txt"
    tr.write_bytes(DATA)
    assert main(["train", "--model", "tiny-conv", "--input", str(tr), "--tokens", "lots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: cannot read token budget" in err[0]

"""``decepticons train``: flags, budgets, errors, and the trained file working with score/generate."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from _torch_tiny import corpus  # noqa: E402
from decepticons import registry  # noqa: E402
from decepticons.cli import main  # noqa: E402
from decepticons.errors import InputError  # noqa: E402
from decepticons.training.cli import parse_budget  # noqa: E402


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._BUILTIN, "tiny-conv", "_torch_tiny:TinyConvPredictor")
    monkeypatch.setitem(registry._BUILTIN, "tiny-gru", "_torch_tiny:TinyGRUPredictor")
    tr, va = tmp_path / "train.txt", tmp_path / "valid.txt"
    tr.write_bytes(corpus(20_000))
    va.write_bytes(corpus(2_000, seed=1))
    return tmp_path, str(tr), str(va)


FAST = ["--batch-size", "4", "--seq-len", "32", "--config", "train.eval_bytes=512", "--config", "train.warmup_steps=2"]


def test_parse_budget():
    assert parse_budget("90s") == 90
    assert parse_budget("10m") == 600
    assert parse_budget("1h") == 3600
    assert parse_budget("1h30m") == 5400
    assert parse_budget("2.5m") == 150
    assert parse_budget("600") == 600
    for bad in ("", "ten minutes", "10x", "-5", "0s", "5m3"):
        with pytest.raises(InputError):
            parse_budget(bad)


def test_train_save_then_score_and_generate(files, capsys):
    tmp, tr, va = files
    model = str(tmp / "m.safetensors")
    rc = main(["train", "--model", "tiny-conv", "--input", tr, "--valid", va, "--steps", "8", "--save", model,
               "--json", "--run-dir", str(tmp / "run"), *FAST])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train"]["steps"] == 8 and out["train"]["stop_reason"] == "steps"
    assert out["train"]["valid_bits_per_byte"] > 0
    assert out["saved"]["path"] == model
    assert (tmp / "run" / "metrics.jsonl").exists()
    assert main(["score", "--load", model, "--input", va, "--json"]) == 0
    score = json.loads(capsys.readouterr().out)["score"]
    assert score["bits_per_byte"] > 0
    assert main(["generate", "--load", model, "--steps", "5", "--seed", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["sample"]) >= 1


def test_resume_and_load_continue_training(files, capsys):
    tmp, tr, va = files
    run = str(tmp / "run")
    assert main(["train", "--model", "tiny-gru", "--input", tr, "--steps", "4", "--run-dir", run, "--quiet",
                 "--config", "train.mode=carried", *FAST]) == 0
    assert main(["train", "--model", "tiny-gru", "--input", tr, "--steps", "7", "--run-dir", run, "--resume",
                 "--json", "--config", "train.mode=carried", *FAST]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["steps"] == 7
    model = str(tmp / "m.safetensors")
    assert main(["train", "--model", "tiny-conv", "--input", tr, "--steps", "2", "--save", model, "--quiet",
                 *FAST]) == 0
    assert main(["train", "--load", model, "--input", tr, "--steps", "2", "--save", model, "--json", *FAST]) == 0
    assert json.loads(capsys.readouterr().out)["saved"]["path"] == model


@pytest.mark.parametrize("extra, message", [
    (["--resume"], "--resume needs --run-dir"),
    (["--mode", "frozen"], "substrate mode"),
    (["--config", "colour=3"], "unknown tiny-conv configuration"),
    (["--config", "train.bogus=1"], "unknown TrainConfig option"),
    (["--config", "train.lr=NaN"], "TrainConfig.lr"),
    (["--lr", "inf"], "TrainConfig.lr"),
    (["--config", "train.grad_clip=NaN"], "TrainConfig.grad_clip"),
    (["--budget", "soon"], "cannot read budget"),
    (["--config", "train.mode=carried"], "forward_with_state"),
])
def test_user_mistakes_exit_2_with_a_message(files, capsys, extra, message):
    _, tr, _ = files
    rc = main(["train", "--model", "tiny-conv", "--input", tr, "--steps", "1", *FAST, *extra])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_missing_input_and_non_torch_model(files, capsys):
    tmp, tr, _ = files
    assert main(["train", "--model", "tiny-conv", "--input", str(tmp / "nope.txt"), "--steps", "1"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train", "--model", "no-such-model", "--input", tr, "--steps", "1"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_causal_bank_train_then_score_generate_compress(tmp_path, capsys):
    pytest.importorskip("decepticons.causal_bank.predictor")
    tr, va = tmp_path / "train.txt", tmp_path / "valid.txt"
    tr.write_bytes(corpus(20_000))
    va.write_bytes(corpus(1_000, seed=1))
    model = str(tmp_path / "bank.safetensors")
    small = ["--config", "embed_dim=8", "--config", "num_modes=8", "--config", "num_oscillatory=2",
             "--config", "readout_hidden=16"]
    assert main(["train", "--model", "causal-bank", "--mode", "gated_retention", "--input", str(tr), "--valid",
                 str(va), "--steps", "3", "--save", model, "--json", *small, *FAST,
                 "--config", "train.eval_bytes=0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train"]["steps"] == 3
    assert main(["info", "--load", model, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["substrate_mode"] == "gated_retention"
    assert main(["score", "--load", model, "--input", str(va), "--json"]) == 0
    bpb = json.loads(capsys.readouterr().out)["score"]["bits_per_byte"]
    assert bpb == out["train"]["valid_bits_per_byte"]  # the trainer evaluates exactly as score does
    assert main(["generate", "--load", model, "--steps", "4", "--quiet"]) == 0
    capsys.readouterr()
    packed, back = str(tmp_path / "v.dcp"), str(tmp_path / "v.out")
    assert main(["compress", "--load", model, "--input", str(va), "--output", packed, "--quiet"]) == 0
    assert main(["decompress", "--load", model, "--input", packed, "--output", back, "--quiet"]) == 0
    assert (tmp_path / "v.out").read_bytes() == va.read_bytes()


@pytest.mark.parametrize("bad", ["embed_dim=0", "half_life_min=NaN", "readout=mlp", "num_modes=2.5"])
def test_bad_causal_bank_config_is_one_error_line(files, capsys, bad):
    _, tr, _ = files
    assert main(["train", "--model", "causal-bank", "--input", tr, "--steps", "1", "--config", bad]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and len(err.strip().splitlines()) == 1
    assert "CausalBankConfig." + bad.split("=")[0] in err


def test_json_report_is_in_bits_with_a_schema_version(tmp_path):
    import json
    import subprocess
    import sys

    corpus = tmp_path / "t.txt"
    corpus.write_bytes(b"the quick brown fox jumps over the lazy dog. " * 200)
    r = subprocess.run([sys.executable, "-m", "decepticons", "train", "--model", "causal-bank", "--config",
                        "embed_dim=8", "--config", "num_modes=12", "--config", "readout_hidden=16", "--input",
                        str(corpus), "--steps", "3", "--batch-size", "2", "--seq-len", "16", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["schema_version"] == 1
    t = out["train"]
    assert "final_loss" not in t and 7.0 < t["final_loss_bits_per_byte"] < 9.5  # bits, not nats (5.5)
    assert t["windows"] == "detached" and "mode" not in t

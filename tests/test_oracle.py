"""The oracle analysis adapter: it sees both sides of each byte (the harness's perturbation check fails on
it), it is refused wherever a causal model is needed (API and command line: one error line, exit 2), and its
analysis reports per-position and per-class causal-vs-oracle bits that add up."""

from __future__ import annotations

import numpy as np
import pytest

from contract import F64, check_causal, sample_bytes
from decepticons.adapters import OracleAnalysisAdapter
from decepticons.adapters.classes import BYTE_CLASSES, byte_classes
from decepticons.cli import main
from decepticons.coding import compress, decompress
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.predictor import generate, score
from decepticons.registry import load_model, model_class

TRAIN = np.asarray(embedded_corpus()[0][:32768]).copy()
VALID = np.asarray(embedded_corpus()[1][:4096]).copy()


@pytest.fixture(scope="module")
def oracle() -> OracleAnalysisAdapter:
    model = OracleAnalysisAdapter(forward={"kind": "ngram", "config": {"orders": 3}}, fit_rows=2048)
    model.fit(TRAIN)
    return model


def test_the_oracle_is_really_non_causal(oracle):
    assert oracle.causal is False
    with pytest.raises(AssertionError, match="is not causal"):
        check_causal(oracle, sample_bytes(), F64)


def test_rows_are_normalised_and_use_both_sides(oracle):
    lp = oracle.log_probs(VALID)
    assert np.allclose(np.logaddexp.reduce(lp, axis=1), 0.0, atol=1e-9)
    fwd = oracle.sides.forward.log_probs(VALID)
    picked = np.arange(len(VALID)), VALID
    # knowing the right context makes held-out text much cheaper than the left context alone
    assert -lp[picked].mean() < 0.8 * -fwd[picked].mean()


@pytest.mark.parametrize("use", ["score", "generate", "compress", "decompress", "stream", "mixer"])
def test_causal_uses_refuse_the_oracle(oracle, use):
    calls = {"score": lambda: score(oracle, VALID), "generate": lambda: generate(oracle, b"ab", steps=3),
             "compress": lambda: compress(oracle, VALID), "decompress": lambda: decompress(oracle, b"DCPZ"),
             "stream": lambda: oracle.stream(),
             "mixer": lambda: model_class("mixer")(orders=2, experts=[oracle])}
    with pytest.raises(InputError, match="non-causal"):
        calls[use]()


@pytest.mark.parametrize("command", ["score", "compress", "decompress", "generate"])
def test_the_command_line_refuses_the_oracle(oracle, tmp_path, capsys, command):
    path = tmp_path / "oracle.safetensors"
    oracle.save(path)
    (tmp_path / "in.txt").write_bytes(VALID.tobytes())
    argv = {"score": ["score", "--input", str(tmp_path / "in.txt")],
            "compress": ["compress", "--input", str(tmp_path / "in.txt"), "--output", str(tmp_path / "c")],
            "decompress": ["decompress", "--input", str(tmp_path / "in.txt"), "--output", str(tmp_path / "d")],
            "generate": ["generate", "--steps", "4"]}[command]
    assert main(argv + ["--load", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"decepticons {command}: error:") and "non-causal" in err[0]
    assert not (tmp_path / "c").exists()


def test_analysis_adds_up(oracle):
    rep = oracle.analyse(VALID)
    assert rep.bytes == len(VALID) and rep.causal_model == "ngram"
    causal = -oracle.sides.forward.target_log_probs(VALID) / np.log(2)
    assert np.allclose(rep.causal_bits, causal)
    assert np.allclose(rep.oracle_bits, -oracle.target_log_probs(VALID) / np.log(2))
    assert np.allclose(rep.gap_bits, rep.causal_bits - rep.oracle_bits)
    assert rep.gap_bits_per_byte == pytest.approx(rep.gap_bits.mean()) and rep.gap_bits_per_byte > 0.3
    total = sum(row["bytes"] * row["oracle_bpb"] for row in rep.per_class.values())
    assert total == pytest.approx(rep.oracle_bits.sum())
    assert set(rep.per_class) <= set(BYTE_CLASSES) and {"letter", "space", "newline"} <= set(rep.per_class)
    d = rep.determined
    assert 0 <= d["p>=0.99"] <= d["p>=0.9"] <= d["p>=0.5"] <= 1
    assert "causal_bits" not in rep.to_dict()


def test_analysis_against_a_given_causal_model(oracle):
    other = model_class("ngram")(orders=1)
    other.fit(TRAIN)
    rep = oracle.analyse(VALID, causal=other)
    assert rep.causal_model == "ngram"
    assert np.allclose(rep.causal_bits, -other.target_log_probs(VALID) / np.log(2))
    with pytest.raises(InputError, match="non-causal"):
        oracle.analyse(VALID, causal=oracle)


def test_byte_classes():
    x = np.frombuffer(b"aZ09 \t,!\n\r\x00\xc3", dtype=np.uint8)
    names = [BYTE_CLASSES[c] for c in byte_classes(x)]
    assert names == ["letter", "letter", "digit", "digit", "space", "space", "punctuation", "punctuation",
                     "newline", "newline", "other", "other"]


def test_save_load_and_bad_input(oracle, tmp_path):
    oracle.save(tmp_path / "o.safetensors")
    back = load_model(tmp_path / "o.safetensors")
    assert np.array_equal(back.log_probs(VALID[:300]), oracle.log_probs(VALID[:300]))
    with pytest.raises(InputError, match="empty"):
        oracle.analyse(b"")
    with pytest.raises(InputError):
        oracle.analyse(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="empty corpus"):
        OracleAnalysisAdapter().fit(b"")
    with pytest.raises(InputError, match="holdout"):
        OracleAnalysisAdapter(holdout=0.9)
    with pytest.raises(InputError, match="non-causal"):
        OracleAnalysisAdapter(forward={"kind": "oracle"})


def test_oracle_command(tmp_path, capsys):
    import json

    (tmp_path / "train.txt").write_bytes(TRAIN.tobytes())
    (tmp_path / "in.txt").write_bytes(VALID[:1024].tobytes())
    causal = model_class("ngram")(orders=2)
    causal.fit(TRAIN)
    causal.save(tmp_path / "causal.safetensors")
    argv = ["oracle", "--input", str(tmp_path / "in.txt"), "--train", str(tmp_path / "train.txt"),
            "--load", str(tmp_path / "causal.safetensors"), "--config", "fit_rows=1024",
            "--save", str(tmp_path / "o.safetensors"), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)["oracle"]
    assert out["causal_bits_per_byte"] > out["oracle_bits_per_byte"] and "letter" in out["per_class"]
    again = ["oracle", "--input", str(tmp_path / "in.txt"), "--oracle", str(tmp_path / "o.safetensors"),
             "--load", str(tmp_path / "causal.safetensors"), "--json"]
    assert main(again) == 0
    assert json.loads(capsys.readouterr().out)["oracle"] == out
    assert main(["oracle", "--input", str(tmp_path / "missing.txt")]) == 2
    assert capsys.readouterr().err.count("error:") == 1

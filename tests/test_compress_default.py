"""``decepticons compress`` / ``decompress`` without ``--load``: an untrained default model that learns while it
codes (as a classic compressor does) round-trips a user's file and beats a fixed code on text; ``--model``
picks another adaptive kind; a non-adaptive kind, ``--model`` beside ``--load`` and a mismatched decoder are
one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from _cli_run import assert_user_error, run
from decepticons.cli import DEFAULT_COMPRESSOR
from decepticons.data import embedded_corpus


def test_default_round_trip_and_figures(tmp_path: Path) -> None:
    text = embedded_corpus()[1][:20_000].tobytes()
    src, out, back = tmp_path / "in.txt", tmp_path / "in.dcx", tmp_path / "back.txt"
    src.write_bytes(text)
    code, stdout, err = run(["compress", "--input", str(src), "--output", str(out), "--json"])
    assert code == 0, err
    report = json.loads(stdout)
    assert report["model"] == f"untrained {DEFAULT_COMPRESSOR} (default configuration)"
    assert "accounting" not in report  # no model file to count
    bpb = out.stat().st_size * 8 / len(text)
    assert bpb < 3.5  # it learns: far below the 8 bits of a fixed code and below gzip's ~3.9 here
    code, _, err = run(["decompress", "--input", str(out), "--output", str(back)])
    assert code == 0, err
    assert back.read_bytes() == text


def test_other_kind_and_mismatch(tmp_path: Path) -> None:
    src, out = tmp_path / "in.txt", tmp_path / "in.dcx"
    src.write_bytes(b"to be or not to be, that is the question. " * 50)
    code, _, err = run(["compress", "--input", str(src), "--output", str(out), "--model", "ngram"])
    assert code == 0, err
    code, _, err = run(["decompress", "--input", str(out), "--output", str(tmp_path / "b"), "--model", "ngram"])
    assert code == 0 and (tmp_path / "b").read_bytes() == src.read_bytes(), err
    code, out_, err = run(["decompress", "--input", str(out), "--output", str(tmp_path / "c")])
    assert code != 0 and "pass the --model or --load that compressed the file" in err
    assert not (tmp_path / "c").exists()


def test_user_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"abc" * 100)
    o = str(tmp_path / "o")
    assert_user_error(run(["compress", "--input", str(src), "--output", o, "--model", "coder"]),
                      "does not learn while it codes")
    assert_user_error(run(["compress", "--input", str(src), "--output", o, "--model", "nope"]), "unknown model")
    assert_user_error(run(["compress", "--input", str(src), "--output", o, "--model", "oracle"]), "not causal")
    assert_user_error(run(["compress", "--input", str(src), "--output", o, "--model", "ngram", "--load",
                           str(tmp_path / "m.safetensors")]), "give one of them")

"""``decepticons bench``: a tiny run on a few KB passed as files (two small models and gzip) checks the JSON
schema, static vs adaptive scoring, the compressed files against the adaptive code length, and a compressor
row against the standard library; :func:`frozen` never changes the fitted model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from _cli_run import assert_user_error, run
from decepticons.bench import BENCH_SCHEMA, BenchConfig, frozen, run_model
from decepticons.bench import runner as R
from decepticons.cli_common import JSON_SCHEMA_VERSION
from decepticons.coding.codec import HEADER_BYTES
from decepticons.data import embedded_corpus
from decepticons.registry import model_class

ROW_KEYS = {"name", "kind", "note", "static_bpb", "adaptive_bpb", "file_bpb", "fit_seconds", "score_kbps",
            "model_bytes", "file_bytes", "adaptive", "skipped", "seconds", "params", "steps", "throughput"}


@pytest.fixture(scope="module")
def split() -> tuple[bytes, bytes]:
    train, valid = embedded_corpus()
    return train[:8000].tobytes(), valid[:3000].tobytes()


@pytest.fixture(scope="module")
def bench_run(split: tuple[bytes, bytes], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    d = tmp_path_factory.mktemp("bench")
    (d / "train.txt").write_bytes(split[0])
    (d / "valid.txt").write_bytes(split[1])
    code, out, err = run(["bench", "--models", "ngram,coder", "--compressors", "gzip", "--train",
                          str(d / "train.txt"), "--valid", str(d / "valid.txt"), "--json", str(d / "out.json"),
                          "--markdown", str(d / "out.md"), "--quiet"])
    assert code == 0, err
    return json.loads((d / "out.json").read_text()), (d / "out.md").read_text(), out


def _rows(report: dict) -> dict[str, dict]:
    return {r["name"]: r for r in report["bench"]["rows"]}


def test_json_schema(bench_run: tuple[dict, str, str]) -> None:
    report = bench_run[0]
    assert report["schema_version"] == JSON_SCHEMA_VERSION
    b = report["bench"]
    assert b["schema"] == BENCH_SCHEMA and b["train_bytes"] == 8000 and b["valid_bytes"] == 3000
    rows = _rows(report)
    assert list(rows) == ["ngram", "coder", "gzip"]
    for r in rows.values():
        assert set(r) == ROW_KEYS and r["skipped"] is None
    assert rows["ngram"]["kind"] == rows["coder"]["kind"] == "model" and rows["gzip"]["kind"] == "compressor"
    assert rows["ngram"]["model_bytes"] > 0 and rows["ngram"]["fit_seconds"] >= 0
    assert b["notes"] == []  # only gzip was asked for, and it is always there


def test_static_and_adaptive(bench_run: tuple[dict, str, str]) -> None:
    rows = _rows(bench_run[0])
    ngram, coder = rows["ngram"], rows["coder"]
    assert ngram["adaptive"] and not coder["adaptive"]
    assert abs(ngram["static_bpb"] - ngram["adaptive_bpb"]) > 1e-3  # learning while it scores changes the code
    assert coder["static_bpb"] == coder["adaptive_bpb"]


def test_compressed_file_matches_adaptive_code_length(bench_run: tuple[dict, str, str]) -> None:
    for name in ("ngram", "coder"):
        r = _rows(bench_run[0])[name]
        ideal = r["adaptive_bpb"] * 3000
        payload_bits = (r["file_bytes"] - HEADER_BYTES) * 8
        assert r["file_bpb"] == r["file_bytes"] * 8 / 3000
        assert -16 <= payload_bits - ideal <= 0.01 * ideal + 64, (name, payload_bits, ideal)


def test_compressor_row_is_the_standard_library(bench_run: tuple[dict, str, str], split: tuple[bytes, bytes]) -> None:
    valid = split[1]
    assert _rows(bench_run[0])["gzip"]["adaptive_bpb"] == len(gzip.compress(valid, 9)) * 8 / len(valid)


def test_markdown_table(bench_run: tuple[dict, str, str]) -> None:
    _, md, out = bench_run
    assert out == ""  # --markdown OUT: nothing on standard output
    lines = md.splitlines()
    assert lines[0].startswith("| name | static bits/byte | adaptive bits/byte | compressed file bits/byte |")
    ngram = next(line for line in lines if line.startswith("| ngram"))
    assert f"{_rows(bench_run[0])['ngram']['adaptive_bpb']:.3f}" in ngram
    assert any(line.startswith("| gzip") for line in lines)


def test_frozen_leaves_the_fitted_model_alone(split: tuple[bytes, bytes]) -> None:
    train, valid = split
    m = model_class("mixer")(seed=0)
    m.fit(train, progress=False)
    fp, before = m.fingerprint(), m.score(valid, progress=False).total_bits
    still = frozen(m)
    assert still is not None and still is not m and not still.adaptive and m.adaptive
    a = still.score(valid, progress=False).total_bits
    assert still.score(valid, progress=False).total_bits == a  # frozen: the same code every time
    assert a != before
    assert m.fingerprint() == fp and m.score(valid, progress=False).total_bits == before
    static = model_class("ngram")(seed=0, online=False)
    assert frozen(static) is static


def test_frozen_ngram_is_the_static_configuration(split: tuple[bytes, bytes]) -> None:
    train, valid = split
    online, offline = model_class("ngram")(seed=0), model_class("ngram")(seed=0, online=False)
    online.fit(train, progress=False)
    offline.fit(train, progress=False)
    still = frozen(online)
    assert still is not None
    np.testing.assert_array_equal(still.log_probs(valid), offline.log_probs(valid))


def test_torch_models_skip_without_torch(monkeypatch: pytest.MonkeyPatch, split: tuple[bytes, bytes]) -> None:
    monkeypatch.setattr(R, "find_spec", lambda name: None)
    x = np.frombuffer(split[0], dtype=np.uint8)
    row = run_model("transformer", x, x, BenchConfig(models=["transformer"], quick=True))
    assert row.skipped == "torch is not installed" and row.adaptive_bpb is None


def test_stdout_table_and_user_errors(split: tuple[bytes, bytes], tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(split[0][:2000])
    (tmp_path / "v.txt").write_bytes(split[1][:500])
    t, v = str(tmp_path / "t.txt"), str(tmp_path / "v.txt")
    code, out, _ = run(["bench", "--models", "ngram", "--compressors", "none", "--train", t, "--valid", v,
                        "--quiet"])
    assert code == 0 and out.startswith("| name |") and "| ngram *" in out and "gzip" not in out
    assert_user_error(run(["bench", "--models", "nope", "--train", t, "--valid", v]), "unknown model")
    assert_user_error(run(["bench", "--models", "ngram", "--train", t]), "--train and --valid go together")
    assert_user_error(run(["bench", "--corpus", "demo", "--train", t, "--valid", v]), "not both")


def test_torch_row_states_its_budget_and_throughput(split: tuple[bytes, bytes], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    train = np.frombuffer(split[0], dtype=np.uint8)
    valid = np.frombuffer(split[1], dtype=np.uint8)
    cfg = BenchConfig(models=["causal-bank"], quick=True, steps=3, compress="none", seq_lens=[64, 256, 1 << 20])
    row = run_model("causal-bank", train, valid, cfg)
    assert row.steps == 3 and row.note == "torch, 3 steps, tiny" and row.params and row.params > 0
    assert row.seconds is not None and row.seconds >= row.fit_seconds
    # lengths beyond the held-out data are left out; the others are measured, positive rates
    assert [int(e[0]) for e in row.throughput] == [64, 256]
    # MFU is a ratio of two timings (the peak is measured too), so only its sign is certain on a loaded host
    assert all(tps > 0 and 0.0 < mfu < float("inf") for _, tps, mfu in row.throughput)
    from decepticons.bench.report import markdown_table, plot, plot_paths

    table = markdown_table([row], [])
    assert "Forward pass tokens/s (MFU) by sequence length" in table and "| causal-bank |" in table
    if pytest.importorskip("matplotlib"):
        written = plot([row], tmp_path / "b.png", "t")
        assert written == list(plot_paths(tmp_path / "b.png"))
        for path in written:
            assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seq_lens_are_checked(split: tuple[bytes, bytes], tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(split[0][:2000])
    (tmp_path / "v.txt").write_bytes(split[1][:500])
    t, v = str(tmp_path / "t.txt"), str(tmp_path / "v.txt")
    assert_user_error(run(["bench", "--models", "ngram", "--train", t, "--valid", v, "--seq-lens", "a,b"]),
                      "--seq-lens must be comma-separated integers")
    assert_user_error(run(["bench", "--models", "ngram", "--train", t, "--valid", v, "--seq-lens", "0"]),
                      "--seq-lens must list lengths")


def test_throughput_lengths_follow_what_each_module_can_read() -> None:
    pytest.importorskip("torch")
    from decepticons.bench.throughput import forward_throughput

    data = np.frombuffer(bytes(range(256)) * 8, dtype=np.uint8)
    bank = model_class("causal-bank")(seed=0, embed_dim=16, input_hidden=64)
    bank.train_window = 64  # a scoring window is not a limit of the recurrences
    assert [int(e[0]) for e in forward_throughput(bank, data, [64, 512, 2048], repeats=1)] == [64, 512, 2048]
    attn = model_class("transformer")(seed=0, n_layer=1, d_model=32, block_size=128)
    assert [int(e[0]) for e in forward_throughput(attn, data, [64, 512], repeats=1)] == [64]

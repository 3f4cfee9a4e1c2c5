"""Artifact accounting: model bytes + code length = total description length, in ``score`` and ``compress``
(text and --json), and the structured ``score --trace`` file."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _cli_run import assert_user_error, run
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.memory import NGramPredictor
from decepticons.runtime import ArtifactAccounting, model_file_bytes, read_trace

TRAIN, VALID = embedded_corpus()


@pytest.fixture()
def saved(tmp_path):
    m = NGramPredictor(orders=3)
    m.fit(TRAIN[:20000])
    path, held = tmp_path / "m.safetensors", tmp_path / "held.txt"
    m.save(path)
    held.write_bytes(np.asarray(VALID[:4000]).tobytes())
    return m, path, held


def test_serialised_size_is_the_saved_file_size(saved):
    m, path, _ = saved
    assert model_file_bytes(m) == os.path.getsize(path)
    a = ArtifactAccounting.of(m, 4000, 9000.0)
    b = ArtifactAccounting.of(m, 4000, 9000.0, model_path=path)
    assert a.model_bytes == b.model_bytes and (a.model_source, b.model_source) == ("serialised", "file")
    assert b.total_bits == 8 * os.path.getsize(path) + 9000.0
    assert b.total_bits_per_byte == pytest.approx(b.code_bits_per_byte + 8 * b.model_bytes / 4000)
    with pytest.raises(InputError, match="accounting needs"):
        ArtifactAccounting(model="x", data_bytes=0, model_bytes=1, code_bits=1.0)
    with pytest.raises(InputError, match="accounting needs"):
        ArtifactAccounting(model="x", data_bytes=1, model_bytes=1, code_bits=float("nan"))


def test_score_and_compress_report_the_total(saved, tmp_path):
    m, path, held = saved
    code, out, err = run(["score", "--load", str(path), "--input", str(held), "--json"])
    assert code == 0, err
    d = json.loads(out)
    acc = d["accounting"]
    assert acc["model_bytes"] == os.path.getsize(path) and acc["data_bytes"] == 4000
    assert acc["code_bits"] == pytest.approx(d["score"]["total_bits"])
    assert acc["total_bits"] == pytest.approx(8 * os.path.getsize(path) + d["score"]["total_bits"])
    assert acc["code_bits_per_byte"] == pytest.approx(m.score(np.asarray(VALID[:4000])).bits_per_byte)
    code, out, _ = run(["score", "--load", str(path), "--input", str(held)])
    assert code == 0 and "total bytes" in out and "model + code" in out
    z = tmp_path / "held.dcpz"
    code, out, err = run(["compress", "--load", str(path), "--input", str(held), "--output", str(z), "--json"])
    assert code == 0, err
    acc = json.loads(out)["accounting"]
    assert acc["code_bits"] == 8 * os.path.getsize(z) and acc["code_source"] == "compressed file"
    assert acc["total_bytes"] == os.path.getsize(z) + os.path.getsize(path)
    code, out, _ = run(["compress", "--load", str(path), "--input", str(held), "--output", str(z)])
    assert code == 0 and "total bytes" in out


def test_score_writes_a_structured_trace(saved, tmp_path):
    m, path, held = saved
    npy, st = tmp_path / "bits.npy", tmp_path / "trace.safetensors"
    assert run(["score", "--load", str(path), "--input", str(held), "--trace", str(npy), "--quiet"])[0] == 0
    code, out, _ = run(["score", "--load", str(path), "--input", str(held), "--trace", str(st), "--json"])
    assert code == 0 and json.loads(out)["trace"]["columns"][-3:] == ["order", "context_count", "context_distinct"]
    tr = read_trace(st)
    assert tr.bytes == 4000 and tr.kind == "ngram" and tr.fingerprint == m.fingerprint()
    np.testing.assert_allclose(tr.columns["bits"], np.load(npy), rtol=1e-5, atol=1e-5)
    assert np.array_equal(tr.columns["order"], m.trace_fields(np.asarray(VALID[:4000]))["order"])
    assert_user_error(run(["score", "--load", str(path), "--input", str(held), "--trace", str(held)]),
                      "same file as --input")

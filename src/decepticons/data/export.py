"""Write registered corpora into a folder with a ``SHA256SUMS`` file (``decepticons data``).

Layout: ``DIR/NAME/train.txt`` and ``DIR/NAME/valid.txt`` for each corpus, and ``DIR/SHA256SUMS`` with one
line ``<sha256>  NAME/SPLIT.txt`` per file (the format ``sha256sum -c`` reads), sorted by path. Lines of an
existing ``SHA256SUMS`` for files not written this time are kept, so several runs into one folder add up.

Every corpus is obtained (from the cache, or built and cached) before anything is written, so a corpus that
cannot be fetched leaves the folder as it was. Each written file is checked against its pinned sha256.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..runtime.files import atomic_write_bytes, read_regular_file
from .corpora import SPLITS, corpus_names, get_corpus

SUMS_FILE = "SHA256SUMS"
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


@dataclass(frozen=True)
class WrittenFile:
    """One file written by :func:`write_corpora`: its path relative to the folder, size and sha256."""

    path: str
    bytes: int
    sha256: str


def read_sums(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{relative path: sha256}`` of a ``SHA256SUMS`` file (``{}`` when it does not exist)."""
    p = Path(path)
    if not p.exists():
        return {}
    out = {}
    for n, line in enumerate(read_regular_file(p, InputError, "checksum file").decode("utf-8", "replace")
                             .splitlines(), 1):
        if not line.strip():
            continue
        m = _SUM_LINE.match(line)
        if not m:
            raise InputError(f"{p} line {n} is not '<sha256>  <path>': {line[:80]!r}")
        out[m.group(2)] = m.group(1)
    return out


def verify_sums(folder: str | os.PathLike[str]) -> list[str]:
    """Problems found checking every file listed in ``folder/SHA256SUMS`` (``[]`` when all match)."""
    root = Path(folder)
    problems = []
    for rel, digest in read_sums(root / SUMS_FILE).items():
        try:
            actual = hashlib.sha256(read_regular_file(root / rel, InputError)).hexdigest()
        except InputError as e:
            problems.append(str(e))
            continue
        if actual != digest:
            problems.append(f"{rel}: sha256 {actual}, listed {digest}")
    return problems


def write_corpora(names: list[str] | None, out_dir: str | os.PathLike[str],
                  download: bool = True) -> list[WrittenFile]:
    """Write the corpora ``names`` (default: every registered one) into ``out_dir`` (module doc)."""
    chosen = list(dict.fromkeys(names)) if names else corpus_names()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output {out} exists and is not a folder")
    corpora = [get_corpus(n) for n in chosen]  # unknown names fail before anything is fetched
    payloads: dict[str, bytes] = {}
    for c in corpora:
        try:
            paths = c.paths(download=download)
        except InputError as e:
            raise InputError(f"corpus {c.name!r} could not be obtained: {e}") from None
        for split in SPLITS:
            blob = bytes(read_regular_file(paths[split], InputError, max_bytes=c.sizes[split]))
            if hashlib.sha256(blob).hexdigest() != c.sha256[split]:
                raise InputError(f"corpus {c.name!r}: {paths[split]} changed after it was checked")
            payloads[f"{c.name}/{split}.txt"] = blob
    sums = read_sums(out / SUMS_FILE)
    written = []
    for rel, blob in payloads.items():
        atomic_write_bytes(out / rel, blob)
        digest = hashlib.sha256(blob).hexdigest()
        sums[rel] = digest
        written.append(WrittenFile(rel, len(blob), digest))
    atomic_write_bytes(out / SUMS_FILE, "".join(f"{sums[k]}  {k}\n" for k in sorted(sums)).encode())
    return written


def corpus_table() -> list[dict[str, object]]:
    """One row per registered corpus: name, kind, split sizes, source, description, whether it is cached."""
    rows = []
    for name in corpus_names():
        c = get_corpus(name)
        rows.append({"name": name, "kind": c.kind, "train_bytes": c.sizes["train"],
                     "valid_bytes": c.sizes["valid"], "source": c.source, "description": c.description,
                     "network": c.needs_network, "cached": c.cached(c.default_root())})
    return rows


__all__ = ["SUMS_FILE", "WrittenFile", "corpus_table", "read_sums", "verify_sums", "write_corpora"]

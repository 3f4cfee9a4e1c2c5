"""Corpora from files and the embedded demo corpus, with clear errors for inputs that cannot be used.

* :func:`read_corpus` reads a regular file into a read-only ``uint8[T]`` array (or, with ``mmap=True``,
  maps it) and checks it is not empty and, if asked, not binary.
* :func:`embedded_corpus` returns the small Shakespeare-comedies corpus shipped inside the package.
"""

from __future__ import annotations

import lzma
import os
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..runtime.files import open_regular_file, read_exact


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
    """``data`` unchanged, or an :class:`InputError` when it is empty or (unless allowed) looks binary."""
    if len(data) == 0:
        raise InputError(f"{name} is empty: there is nothing to learn from or score")
    if not allow_binary and looks_binary(data):
        raise InputError(f"{name} looks like binary data, not text (pass --allow-binary to use it anyway)")
    return data


def read_corpus(path: str | os.PathLike[str], allow_binary: bool = True, name: str | None = None,
                mmap: bool = False) -> np.ndarray:
    """The bytes of a regular file as a read-only ``uint8[T]`` array; clear errors for unusable inputs.

    Refused with an :class:`InputError`: a missing path, a directory, anything that is not a regular file
    (``/dev/zero``, a FIFO: they have no size and may never end), an empty file, and (with
    ``allow_binary=False``) data that looks binary.

    By default the file is read into memory by ``read()`` calls into an array of the size ``fstat`` gave
    when it was opened: a file that shrinks or grows meanwhile is an :class:`InputError` ("changed while
    being read"), and nothing done to the file afterwards can affect the array.

    ``mmap=True`` maps the file instead (no copy, any size, pages read on demand; for corpora larger than
    memory). The map shares the file: if another process truncates it while the array is in use, touching
    the lost pages kills this process with SIGBUS. Use it only for files nothing else writes.
    """
    p = Path(path)
    label = name or str(p)
    with open_regular_file(p, InputError, "input file") as (f, size):
        if size == 0:
            raise InputError(f"{label} is empty: there is nothing to learn from or score")
        data: np.ndarray  # a map of the file, or a copy read into memory
        if mmap:
            data = np.memmap(f, dtype=np.uint8, mode="r", shape=(size,))
        else:
            try:
                data = np.empty(size, dtype=np.uint8)
            except MemoryError:
                raise InputError(f"{label} ({size:,} bytes) does not fit in memory") from None
            read_exact(f, data.data, p, InputError)  # ``data.data``: the array's buffer as a memoryview
            data.flags.writeable = False
    return check_corpus(data, label, allow_binary=allow_binary)


def _read_embedded(name: str) -> np.ndarray:
    raw = resources.files("decepticons.data").joinpath(name).read_bytes()
    return np.frombuffer(lzma.decompress(raw), dtype=np.uint8)


def embedded_corpus() -> tuple[np.ndarray, np.ndarray]:
    """``(train, valid)`` of the demo corpus shipped in the package (451 KB / 101 KB).

    Train: four Shakespeare comedies; held out: *The Two Gentlemen of Verona*.
    """
    return (_read_embedded("shakespeare_comedies_train.txt.xz"),
            _read_embedded("shakespeare_comedies_valid.txt.xz"))


__all__ = ["looks_binary", "check_corpus", "read_corpus", "embedded_corpus"]

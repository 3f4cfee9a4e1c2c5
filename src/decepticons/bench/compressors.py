"""Classic compressors as bench baselines: what the standard library, installed packages and ``PATH`` offer.

Each :class:`Compressor` turns the held-out bytes into a compressed file; the bench reports its size in bits
per byte. Compressors that are not installed are listed as skipped, never silently dropped.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import lzma
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from .rows import BenchRow


@dataclass(frozen=True)
class Compressor:
    """A named compressor: ``compress(bytes) -> bytes``; ``note`` says which setting it uses."""

    name: str
    note: str
    compress: Callable[[bytes], bytes]


def _xz(data: bytes) -> bytes:
    return lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)


def _module_compressors() -> tuple[list[Compressor], list[str]]:
    found: list[Compressor] = []
    missing: list[str] = []
    try:
        zstandard = importlib.import_module("zstandard")
        found.append(Compressor("zstd", "zstandard level 22",
                                lambda d: zstandard.ZstdCompressor(level=22).compress(d)))
    except ImportError:
        missing.append("zstd (pip install zstandard)")
    try:
        brotli = importlib.import_module("brotli")
        found.append(Compressor("brotli", "quality 11", lambda d: brotli.compress(d, quality=11)))
    except ImportError:
        missing.append("brotli (pip install brotli)")
    try:
        pyppmd = importlib.import_module("pyppmd")
        found.append(Compressor("ppmd", "PPMd var. H, order 6, 16 MiB",
                                lambda d: pyppmd.compress(d, max_order=6, mem_size=16 << 20)))
    except ImportError:
        missing.append("ppmd (pip install pyppmd)")
    return found, missing


def _external(name: str, exe: str, args: Callable[[str, str], list[str]], out_name: str) -> Compressor:
    def run(data: bytes) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "valid.txt")
            with open(src, "wb") as f:
                f.write(data)
            subprocess.run(args(exe, src), cwd=tmp, check=True, capture_output=True, timeout=3600)
            with open(os.path.join(tmp, out_name), "rb") as f:
                return f.read()

    return Compressor(name, f"{os.path.basename(exe)} on PATH", run)


def _path_compressors() -> tuple[list[Compressor], list[str]]:
    found: list[Compressor] = []
    missing: list[str] = []
    paq = shutil.which("paq8px")
    if paq:
        found.append(_external("paq8px", paq, lambda exe, src: [exe, "-8", src, "valid.txt.paq8px"],
                               "valid.txt.paq8px"))
    else:
        missing.append("paq8px (not on PATH)")
    zpaq = shutil.which("zpaq")
    if zpaq:
        found.append(_external("zpaq", zpaq, lambda exe, src: [exe, "a", "out.zpaq", "valid.txt", "-m5"],
                               "out.zpaq"))
    else:
        missing.append("zpaq (not on PATH)")
    return found, missing


def available_compressors() -> tuple[list[Compressor], list[str]]:
    """``(compressors found, notes on those that are not)``: gzip -9, bzip2 -9 and xz -9e always; zstd,
    brotli and PPMd when their packages import; paq8px and zpaq when found on ``PATH``."""
    found = [Compressor("gzip", "level 9", lambda d: gzip.compress(d, 9, mtime=0)),
             Compressor("bzip2", "level 9", lambda d: bz2.compress(d, 9)),
             Compressor("xz", "preset 9e", _xz)]
    mods, missing = _module_compressors()
    paths, missing_paths = _path_compressors()
    return found + mods + paths, missing + missing_paths


def run_compressors(valid: bytes, names: list[str] | None = None) -> tuple[list[BenchRow], list[str]]:
    """One row per compressor (``names``: a subset, ``None``: all found); returns the rows and notes."""
    found, notes = available_compressors()
    if names is not None:
        notes = [n for n in notes if n.split()[0] in names]
        found = [c for c in found if c.name in names]
    rows = []
    for c in found:
        t0 = time.perf_counter()
        try:
            size = len(c.compress(valid))
        except (OSError, subprocess.SubprocessError) as e:
            notes.append(f"{c.name}: failed ({e})")
            continue
        seconds = time.perf_counter() - t0
        bpb = size * 8 / len(valid)
        rows.append(BenchRow(name=c.name, kind="compressor", note=c.note, static_bpb=None, adaptive_bpb=bpb,
                             file_bpb=bpb, fit_seconds=None, score_kbps=len(valid) / 1024 / max(seconds, 1e-9),
                             model_bytes=None, file_bytes=size, seconds=seconds))
    return rows, notes

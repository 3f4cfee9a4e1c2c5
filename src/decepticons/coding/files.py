"""File versions of ``compress`` / ``decompress`` and their reports.

Outputs are written atomically (a temporary file in the same folder, then a rename), so a failure never
leaves a partial file; ``decompress_file`` writes nothing unless the checksum of the original verifies.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from ..predictor import CausalPredictor
from ..runtime.files import read_regular_file, write_output
from ..runtime.reports import Report
from .codec import compress, decompress


@dataclass
class CompressReport(Report):
    """Sizes and speed of one ``compress`` call."""

    model: str
    input: str
    output: str
    original_bytes: int
    compressed_bytes: int
    seconds: float
    fingerprint: str = ""

    @property
    def bits_per_byte(self) -> float:
        return 8.0 * self.compressed_bytes / self.original_bytes if self.original_bytes else float("nan")

    @property
    def bytes_per_second(self) -> float:
        return self.original_bytes / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["bits_per_byte"] = None if not self.original_bytes else self.bits_per_byte
        d["bytes_per_second"] = self.bytes_per_second
        d["ratio"] = (self.original_bytes / self.compressed_bytes) if self.compressed_bytes else None
        return d

    def __str__(self) -> str:
        bpb = "n/a" if not self.original_bytes else f"{self.bits_per_byte:.4f}"
        return "\n".join([
            f"model          {self.model} (fingerprint {self.fingerprint[:16]})",
            f"input          {self.input} ({self.original_bytes:,} bytes)",
            f"output         {self.output} ({self.compressed_bytes:,} bytes)",
            f"bits/byte      {bpb} (file size, header included)",
            f"time           {self.seconds:.2f} s ({self.bytes_per_second / 1e3:,.1f} KB/s)",
        ])


@dataclass
class DecompressReport(Report):
    """Sizes and speed of one ``decompress`` call."""

    model: str
    input: str
    output: str
    compressed_bytes: int
    original_bytes: int
    seconds: float

    @property
    def bytes_per_second(self) -> float:
        return self.original_bytes / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["bytes_per_second"] = self.bytes_per_second
        return d

    def __str__(self) -> str:
        return "\n".join([
            f"model          {self.model}",
            f"input          {self.input} ({self.compressed_bytes:,} bytes)",
            f"output         {self.output} ({self.original_bytes:,} bytes, checksum verified)",
            f"time           {self.seconds:.2f} s ({self.bytes_per_second / 1e3:,.1f} KB/s)",
        ])


def _read_file(path: str | os.PathLike[str]) -> bytes:
    """A regular file's bytes (a device such as ``/dev/zero`` or a FIFO is refused, never read without end)."""
    return bytes(read_regular_file(path))


def compress_file(model: CausalPredictor, in_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                  progress: bool | None = None) -> CompressReport:
    """Compress ``in_path`` into ``out_path`` (written atomically; ``-`` is standard output)."""
    raw = _read_file(in_path)
    t0 = time.perf_counter()
    blob = compress(model, raw, progress=progress)
    seconds = time.perf_counter() - t0
    write_output(str(out_path), blob)
    return CompressReport(model=model.name, input=str(in_path), output=str(out_path),
                          original_bytes=len(raw), compressed_bytes=len(blob), seconds=seconds,
                          fingerprint=model.fingerprint())


def decompress_file(model: CausalPredictor, in_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                    progress: bool | None = None) -> DecompressReport:
    """Decompress ``in_path`` into ``out_path``; nothing is written unless the checksum verifies."""
    blob = _read_file(in_path)
    t0 = time.perf_counter()
    x = decompress(model, blob, progress=progress)
    seconds = time.perf_counter() - t0
    write_output(str(out_path), x.tobytes())
    return DecompressReport(model=model.name, input=str(in_path), output=str(out_path),
                            compressed_bytes=len(blob), original_bytes=len(x), seconds=seconds)

"""Entropy coding with any causal predictor: ``compress`` / ``decompress`` and their file versions.

Mechanism
---------
For each position t the model's :meth:`~decepticons.predictor.CausalPredictor.stream` gives the next-byte
distribution ``p_t`` (``float64[256]``). It is quantised deterministically to integer frequencies
``f_t`` (``int64[256]``, every entry >= 1, summing to ``2**24``; see :func:`quantize`) and byte ``x_t`` is
range coded with ``P(x_t) = f_t[x_t] / 2**24`` through ``constriction``'s queue (range) coder. The decoder
runs the same stream, so it sees bit-identical ``p_t`` and hence identical ``f_t``; the code length is
within a few bytes of ``sum_t -log2 f_t[x_t] / 2**24``, itself within ~1e-5 bits/byte of the model's ideal
``sum_t -log2 p_t[x_t]``.

Container (all integers little-endian)::

    offset size
    0      4    magic  b"DCPZ"
    4      1    format version (1)
    5      1    flags (0)
    6      16   model fingerprint: first 16 bytes of sha256(kind, config, weights)
    22     8    original length in bytes
    30     8    first 8 bytes of sha256(original)
    38     4    crc32 of the payload
    42     4    crc32 of bytes 0..41 (the header itself)
    46     ...  range-coder payload (uint32 words)

Decoding with another model, a truncated or corrupted file raises :class:`CompressedFileError`; the
checksum of the original is verified before anything is returned or written, so wrong data never comes
back silently. File outputs are written atomically (no partial file on failure).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .codecs import BytesLike, as_byte_array
from .errors import CompressedFileError, InputError
from .predictor import LN2, CausalPredictor
from .runtime.checkpoints import atomic_write_bytes
from .runtime.progress import ByteProgress
from .runtime.reports import Report

MAGIC = b"DCPZ"
FORMAT_VERSION = 1
PRECISION = 24
TOTAL = 1 << PRECISION
_HEAD = struct.Struct("<4sBB16sQ8sI")
HEADER_BYTES = _HEAD.size + 4
_CHUNK = 4096


# ---------------------------------------------------------------------------------------------- quantiser
def quantize(p: np.ndarray, use_numba: bool = True) -> np.ndarray:
    """``int64[n]`` frequencies (>= 1 each, sum ``2**24``) from non-negative probabilities ``p``.

    The arithmetic is :func:`decepticons.memory._kernels.quantize_probs` (compiled by numba when
    available, with an identical pure-Python reference).
    """
    return _quantize_f64(np.ascontiguousarray(p, dtype=np.float64), use_numba).astype(np.int64)


def _quantize_f64(p: np.ndarray, use_numba: bool = True) -> np.ndarray:
    from .memory._kernels import get_kernels

    if p.ndim != 1 or p.shape[0] < 1:
        raise InputError(f"expected a 1-D distribution, got shape {p.shape}")
    out = np.empty(p.shape[0], dtype=np.float64)
    get_kernels(use_numba).quantize_probs(p, out)
    if out[0] < 0:
        raise InputError("the model produced an invalid distribution (NaN, negative or all zero)")
    return out


def _freqs_fn(st):
    """The function giving the coding frequencies (float64[256]) of the stream's next byte.

    A stream may offer ``coding_freqs()`` (its own distribution quantised the same way, without the
    round trip through logarithms); otherwise ``exp(log_probs())`` is quantised. Encoder and decoder
    make the same choice, so they always agree.
    """
    fn = getattr(st, "coding_freqs", None)
    if fn is not None:
        return fn

    def from_log_probs() -> np.ndarray:
        lp = np.asarray(st.log_probs(), dtype=np.float64)
        return _quantize_f64(np.exp(lp - lp.max()))

    return from_log_probs


def _stream_probs(st) -> np.ndarray:
    lp = np.asarray(st.log_probs(), dtype=np.float64)
    return np.exp(lp - lp.max())


# ---------------------------------------------------------------------------------------------- header
def _fingerprint16(model: CausalPredictor) -> bytes:
    return bytes.fromhex(model.fingerprint())[:16]


def _digest8(x: np.ndarray) -> bytes:
    return hashlib.sha256(x.tobytes()).digest()[:8]


def _pack_header(fp: bytes, length: int, digest: bytes, payload: bytes) -> bytes:
    head = _HEAD.pack(MAGIC, FORMAT_VERSION, 0, fp, length, digest, zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head))


def _unpack_header(blob: bytes) -> tuple[bytes, int, bytes, int]:
    if len(blob) < 4 or blob[:4] != MAGIC:
        raise CompressedFileError("not a decepticons compressed file (bad magic bytes)")
    if len(blob) < HEADER_BYTES:
        raise CompressedFileError(f"compressed file is truncated: {len(blob)} bytes, the header alone "
                                  f"needs {HEADER_BYTES}")
    head = blob[:_HEAD.size]
    (crc,) = struct.unpack("<I", blob[_HEAD.size:HEADER_BYTES])
    if zlib.crc32(head) != crc:
        raise CompressedFileError("compressed file is corrupted: its header checksum does not match")
    magic, version, flags, fp, length, digest, payload_crc = _HEAD.unpack(head)
    if version != FORMAT_VERSION:
        raise CompressedFileError(f"compressed file uses format version {version}; this version reads "
                                  f"{FORMAT_VERSION}")
    if flags != 0:
        raise CompressedFileError(f"compressed file has unknown flags {flags:#x}")
    return fp, length, digest, payload_crc


# ---------------------------------------------------------------------------------------------- API
def _freq_blocks(model: CausalPredictor, x: np.ndarray):
    """``(start, float64[n, 256])`` blocks of coding frequencies for ``x``, through the model's stream.

    A model may provide ``coding_freq_blocks(x, chunk)``: the same frequencies its stream's
    ``coding_freqs()`` gives, computed in batches (each such model has a test of exact equality).
    """
    fn = getattr(model, "coding_freq_blocks", None)
    if fn is not None:
        start = 0
        for block in fn(x, _CHUNK):
            yield start, block
            start += len(block)
        return
    st = model.stream()
    next_freqs = _freqs_fn(st)  # resolved once, not per byte
    freqs = np.empty((_CHUNK, 256), dtype=np.float64)
    for start in range(0, len(x), _CHUNK):
        block = x[start:start + _CHUNK]
        for i, b in enumerate(block):
            freqs[i] = next_freqs()
            st.push(int(b))
        yield start, freqs[:len(block)]


def compress(model: CausalPredictor, data: BytesLike, progress: bool | None = None) -> bytes:
    """Entropy-code ``data`` with ``model``; returns the container bytes (header + payload)."""
    import constriction

    x = as_byte_array(data)
    if len(x) == 0:
        return _pack_header(_fingerprint16(model), 0, _digest8(x), b"")
    fam = constriction.stream.model.Categorical(perfect=False)
    enc = constriction.stream.queue.RangeEncoder()
    with ByteProgress(len(x), desc=f"compress {model.name}", enabled=progress) as bar:
        for start, freqs in _freq_blocks(model, x):
            n = len(freqs)
            if n and freqs[:, 0].min() < 0:  # quantize_probs flags an invalid distribution with -1
                raise InputError(f"{model.name} produced an invalid distribution (NaN, negative or all zero) "
                                 f"at byte {start + int(np.argmax(freqs[:, 0] < 0))}")
            enc.encode(x[start:start + n].astype(np.int32), fam, freqs)
            bar.update(n)
    payload = enc.get_compressed().astype("<u4").tobytes()
    return _pack_header(_fingerprint16(model), len(x), _digest8(x), payload) + payload


def decompress(model: CausalPredictor, blob: bytes | bytearray | memoryview,
               progress: bool | None = None) -> np.ndarray:
    """Invert :func:`compress`: ``uint8[T]``. Raises :class:`CompressedFileError` on any mismatch."""
    import constriction

    blob = bytes(blob)
    fp, length, digest, payload_crc = _unpack_header(blob)
    if fp != _fingerprint16(model):
        raise CompressedFileError("compressed file was written with a different model (fingerprint "
                                  f"{fp.hex()}..., this model is {_fingerprint16(model).hex()}...)")
    payload = blob[HEADER_BYTES:]
    if zlib.crc32(payload) != payload_crc:
        raise CompressedFileError(f"compressed file is truncated or corrupted: its payload ({len(payload)} bytes) "
                                  "does not match the checksum in the header")
    if length == 0:
        if payload:
            raise CompressedFileError("compressed file is corrupted: payload after an empty original")
        return np.zeros(0, dtype=np.uint8)
    if len(payload) == 0 or len(payload) % 4:
        raise CompressedFileError(f"compressed file is truncated or corrupted: payload of {len(payload)} "
                                  "bytes is not a whole number of 32-bit words")
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    fam = constriction.stream.model.Categorical(perfect=False)
    dec = constriction.stream.queue.RangeDecoder(words)
    st = model.stream()
    push, decode = st.push, dec.decode
    # a stream may lend its own (1, 256) frequency buffer (same values as coding_freqs, no copies)
    freq_row = getattr(st, "coding_freq_row", None)
    if freq_row is None:
        freqs = _freqs_fn(st)
        row = np.empty((1, 256), dtype=np.float64)

        def freq_row() -> np.ndarray:
            row[0] = freqs()
            return row

    out = np.empty(length, dtype=np.uint8)
    try:
        with ByteProgress(length, desc=f"decompress {model.name}", enabled=progress) as bar:
            for t in range(length):
                r = freq_row()
                try:
                    b = int(decode(fam, r)[0])
                except (AssertionError, ValueError, RuntimeError):
                    if r[0, 0] < 0:  # quantize_probs flags an invalid distribution with -1
                        raise InputError(f"{model.name} produced an invalid distribution at byte {t}") from None
                    raise
                out[t] = b
                push(b)
                if (t & 0xFFFF) == 0xFFFF:
                    bar.update(0x10000)
    except InputError:  # the model's own failure, not the file's
        raise
    except (AssertionError, ValueError, RuntimeError) as e:
        raise CompressedFileError(f"compressed file is truncated or corrupted (decoder failed at byte "
                                  f"{t} of {length}: {e})") from None
    if _digest8(out) != digest:
        raise CompressedFileError("compressed file is truncated or corrupted: the decoded bytes do not match "
                                  "the checksum of the original")
    return out


# ---------------------------------------------------------------------------------------------- files
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

    def to_dict(self) -> dict:
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

    def to_dict(self) -> dict:
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


def _read_file(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if not p.exists():
        raise InputError(f"input file not found: {p}")
    if p.is_dir():
        raise InputError(f"expected a file, got a directory: {p}")
    return p.read_bytes()


def compress_file(model: CausalPredictor, in_path: str | os.PathLike, out_path: str | os.PathLike,
                  progress: bool | None = None) -> CompressReport:
    """Compress ``in_path`` into ``out_path`` (written atomically)."""
    raw = _read_file(in_path)
    t0 = time.perf_counter()
    blob = compress(model, raw, progress=progress)
    seconds = time.perf_counter() - t0
    atomic_write_bytes(out_path, blob)
    return CompressReport(model=model.name, input=str(in_path), output=str(out_path),
                          original_bytes=len(raw), compressed_bytes=len(blob), seconds=seconds,
                          fingerprint=model.fingerprint())


def decompress_file(model: CausalPredictor, in_path: str | os.PathLike, out_path: str | os.PathLike,
                    progress: bool | None = None) -> DecompressReport:
    """Decompress ``in_path`` into ``out_path``; nothing is written unless the checksum verifies."""
    blob = _read_file(in_path)
    t0 = time.perf_counter()
    x = decompress(model, blob, progress=progress)
    seconds = time.perf_counter() - t0
    atomic_write_bytes(out_path, x.tobytes())
    return DecompressReport(model=model.name, input=str(in_path), output=str(out_path),
                            compressed_bytes=len(blob), original_bytes=len(x), seconds=seconds)


def ideal_code_bits(model: CausalPredictor, data: BytesLike) -> float:
    """``sum_t -log2 p(x_t | x_<t)`` through the model's stream (the quantity ``compress`` approaches)."""
    x = as_byte_array(data)
    st = model.stream()
    total = 0.0
    for b in x:
        p = _stream_probs(st)
        total -= float(np.log(p[b] / p.sum())) / LN2
        st.push(int(b))
    return total


__all__ = ["compress", "decompress", "compress_file", "decompress_file", "quantize", "ideal_code_bits",
           "CompressReport", "DecompressReport", "MAGIC", "FORMAT_VERSION", "HEADER_BYTES"]

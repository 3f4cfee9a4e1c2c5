"""Entropy coding with any causal predictor: ``compress`` / ``decompress``.

Mechanism
---------
For each position t the model's :meth:`~decepticons.predictor.CausalPredictor.stream` gives the next-byte
distribution ``p_t`` (``float64[256]``). It is quantised deterministically to integer frequencies
``f_t`` (``int64[256]``, every entry >= 1, summing to ``2**24``; see :mod:`.frequencies`) and byte ``x_t`` is
range coded with ``P(x_t) = f_t[x_t] / 2**24`` through ``constriction``'s queue (range) coder. The decoder
runs the same stream, so it sees bit-identical ``p_t`` and hence identical ``f_t``; the code length is
within a few bytes of ``sum_t -log2 f_t[x_t] / 2**24``, itself close to the model's ideal
``sum_t -log2 p_t[x_t]`` (the quantiser moves each probability by at most about ``256 / 2**24``).

Container (all integers little-endian)::

    offset size
    0      4    magic  b"DCPZ"
    4      1    format version (1)
    5      1    flags: bit 0 (FLAG_MLX) when an MLX backend computed the predictions; bit 1 (FLAG_BITWISE)
                a bitwise payload (see below); every other bit 0
    6      16   model fingerprint: first 16 bytes of sha256(kind, config, weights)
    22     8    original length in bytes
    30     8    first 8 bytes of sha256(original)
    38     4    crc32 of the payload
    42     4    crc32 of bytes 0..41 (the header itself)
    46     ...  range-coder payload (uint32 words)

Bitwise payloads (flag 1). A model that codes its bytes as binary decisions itself (:class:`BitCodingModel`,
the bit-level ``cm``: 8 node probabilities per byte instead of a 256-way row) writes its own payload of
bytes (``bit_compress``) and reads it back (``bit_decompress``); everything else in the container is the
same. Its coder never gives a decision more than ``1 - 2**-16``, so a byte costs at least
``BIT_C_MIN = -8 log2(1 - 2**-16)`` bits: a header length above ``(8 B + SLACK_BITS) / BIT_C_MIN`` for a
``B``-byte payload is refused before anything is allocated, and the decoder refuses to read past the
payload's end.

Decoding with another model, a truncated or corrupted file raises :class:`CompressedFileError`; the
checksum of the original is verified before anything is returned, so wrong data never comes back silently.

Backends. The same model file gives the same fingerprint on torch and on MLX, but the two backends' float
results differ in the last bits, and one quantised frequency that differs derails the decoder. So the
header records the backend (``flags``) and a file decodes only with the backend that wrote it: decoding
with the other one is refused up front (:class:`CompressedFileError` naming the backend to use).

Bounds on decoding. The header's length is not trusted. The range coder re-quantises each row of
frequencies ``f`` (``constriction``'s fast leaky quantiser, ``perfect=False``): byte ``b`` gets
``q_b <= 1 + ceil(f_b * (2**24 - 256) / 2**24)`` of ``2**24``, so coding it costs at least
``c(f_b) = 24 - log2(1 + ceil(f_b * (2**24 - 256) / 2**24))`` bits, and at least
``C_MIN = c(2**24 - 255)`` (about 4.4e-5) whatever the model says. A payload of ``W`` 32-bit words holds
at most ``32 W + SLACK_BITS`` bits of such costs (``SLACK_BITS`` is a margin for the coder's final state).
Hence, before anything is allocated, a header length above ``(32 W + SLACK_BITS) / C_MIN`` is refused;
while decoding, the running sum of ``c(f)`` over the decoded bytes (in exact fixed point, rounded down) is
compared with ``32 W + SLACK_BITS``, and decoding stops with an error as soon as it is exceeded (the payload
is used up: the claimed length cannot be right); and the output grows as bytes are decoded (doubling from
at most ``OUT_START`` bytes) instead of being allocated at the claimed length. A genuine file can still
expand by up to ``1 / C_MIN`` (about 23,000) bytes per payload bit when the model is near-certain of every
byte, and a forged length can make the decoder run that far (through bytes the model finds near-certain)
before the checksum refuses the result: time and memory are bounded by the payload size times that factor.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import CompressedFileError, InputError
from ..predictor import LN2, CausalPredictor, Stream, require_causal
from ..runtime.progress import ByteProgress
from .frequencies import QUANT_BITS, quantize_f64

MAGIC = b"DCPZ"
FORMAT_VERSION = 1
_HEAD = struct.Struct("<4sBB16sQ8sI")
HEADER_BYTES = _HEAD.size + 4
_CHUNK = 4096
#: ``flags`` bit: the predictions came from the MLX backend (``model.backend == "mlx"``)
FLAG_MLX = 0x01

#: ``(2**24 - 256) / 2**24``: the range coder's scale of the frequencies before adding 1 to each
_LEAK_SCALE = ((1 << QUANT_BITS) - 256) / (1 << QUANT_BITS)
#: the least a byte can cost in the range coder (bits): its frequency is at most ``2**24 - 255``
C_MIN = QUANT_BITS - math.log2(1 + math.ceil(((1 << QUANT_BITS) - 255) * _LEAK_SCALE))
#: bits of coded cost a payload may hold beyond its own size (margin for the coder's final state)
SLACK_BITS = 64
#: first size of the output buffer (bytes); it doubles as decoding needs
OUT_START = 1 << 20
#: the least a byte can cost in a bitwise payload (bits): 8 decisions of probability at most 1 - 2**-16
BIT_C_MIN = -8.0 * math.log2(1.0 - 2.0 ** -16)
#: header flag of a bitwise payload
FLAG_BITWISE = 0x02
#: fixed-point unit of the running cost (exact integer sums, rounded down: a lower bound)
_COST_UNIT = float(1 << 32)


@runtime_checkable
class CodingFreqStream(Protocol):
    """A stream that gives its next byte's coding frequencies itself (``float64[256]``, the quantiser of
    :mod:`.frequencies` applied to its own distribution)."""

    def coding_freqs(self) -> np.ndarray: ...


@runtime_checkable
class FreqRowStream(Protocol):
    """A stream that lends its own ``(1, 256)`` frequency buffer (same values as ``coding_freqs``, valid
    until the next ``push``)."""

    def coding_freq_row(self) -> np.ndarray: ...


@runtime_checkable
class FreqBlockModel(Protocol):
    """A model that computes its stream's coding frequencies in batches: ``float64[n, 256]`` blocks of at
    most ``chunk`` rows, equal to ``stream().coding_freqs()`` step by step."""

    def coding_freq_blocks(self, data: BytesLike, chunk: int) -> Iterator[np.ndarray]: ...


@runtime_checkable
class BitCodingModel(Protocol):
    """A model that entropy-codes bytes as its own binary decisions: ``bit_compress(data) -> bytes`` and
    ``bit_decompress(payload, length) -> uint8[length]`` (raising :class:`CompressedFileError` when the
    payload ends too soon), with code lengths within 0.1% of its scored bits."""

    def bit_compress(self, data: BytesLike) -> bytes: ...

    def bit_decompress(self, payload: bytes, length: int) -> np.ndarray: ...


# ---------------------------------------------------------------------------------------------- frequencies
def _freqs_fn(st: Stream) -> Callable[[], np.ndarray]:
    """The function giving the coding frequencies (float64[256]) of the stream's next byte:
    ``coding_freqs`` when the stream has it, else ``exp(log_probs())`` quantised."""
    if isinstance(st, CodingFreqStream):
        return st.coding_freqs

    def from_log_probs() -> np.ndarray:
        return quantize_f64(_stream_probs(st))

    return from_log_probs


def _stream_probs(st: Stream) -> np.ndarray:
    lp = np.asarray(st.log_probs(), dtype=np.float64)
    return np.exp(lp - lp.max())


def _freq_row_fn(st: Stream) -> Callable[[], np.ndarray]:
    """The decoder's per-byte frequencies as a ``(1, 256)`` row: the stream's own buffer
    (:class:`FreqRowStream`, no copies) or one row refilled from :func:`_freqs_fn`."""
    if isinstance(st, FreqRowStream):
        return st.coding_freq_row
    freqs = _freqs_fn(st)
    row = np.empty((1, 256), dtype=np.float64)

    def freq_row() -> np.ndarray:
        row[0] = freqs()
        return row

    return freq_row


# ---------------------------------------------------------------------------------------------- header
def _fingerprint16(model: CausalPredictor) -> bytes:
    return bytes.fromhex(model.fingerprint())[:16]


def _digest8(x: np.ndarray) -> bytes:
    return hashlib.sha256(x.tobytes()).digest()[:8]


def _backend_flags(model: CausalPredictor) -> int:
    return FLAG_MLX if getattr(model, "backend", None) == "mlx" else 0


def _backend_name(flags: int) -> str:
    return "mlx" if flags & FLAG_MLX else "torch"


def _pack_header(fp: bytes, length: int, digest: bytes, payload: bytes, flags: int = 0) -> bytes:
    head = _HEAD.pack(MAGIC, FORMAT_VERSION, flags, fp, length, digest, zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head))


def _unpack_header(blob: bytes) -> tuple[bytes, int, bytes, int, int]:
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
    if flags & ~(FLAG_MLX | FLAG_BITWISE) or flags == FLAG_MLX | FLAG_BITWISE:  # no MLX model codes bitwise
        raise CompressedFileError(f"compressed file has unknown flags {flags:#x}")
    return fp, length, digest, payload_crc, flags


# ---------------------------------------------------------------------------------------------- API
def _freq_blocks(model: CausalPredictor, x: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, float64[n, 256])`` blocks of coding frequencies for ``x``: the model's own batches
    (:class:`FreqBlockModel`, each such model has a test of exact equality with its stream) or through
    its stream."""
    if isinstance(model, FreqBlockModel):
        start = 0
        for block in model.coding_freq_blocks(x, _CHUNK):
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

    require_causal(model, "compress")
    x = as_byte_array(data)
    if len(x) == 0:
        return _pack_header(_fingerprint16(model), 0, _digest8(x), b"", _backend_flags(model))
    if isinstance(model, BitCodingModel):
        with ByteProgress(len(x), desc=f"compress {model.name}", enabled=progress) as bar:
            payload = bytes(model.bit_compress(x))
            bar.update(len(x))
        return _pack_header(_fingerprint16(model), len(x), _digest8(x), payload, FLAG_BITWISE) + payload
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
    return _pack_header(_fingerprint16(model), len(x), _digest8(x), payload, _backend_flags(model)) + payload


def decompress(model: CausalPredictor, blob: bytes | bytearray | memoryview,
               progress: bool | None = None) -> np.ndarray:
    """Invert :func:`compress`: ``uint8[T]``. Raises :class:`CompressedFileError` on any mismatch."""
    import constriction

    require_causal(model, "decompress")
    blob = bytes(blob)
    fp, length, digest, payload_crc, flags = _unpack_header(blob)
    if fp != _fingerprint16(model):
        raise CompressedFileError("compressed file was written with a different model (fingerprint "
                                  f"{fp.hex()}..., this model is {_fingerprint16(model).hex()}...)")
    if flags & FLAG_MLX != _backend_flags(model):
        raise CompressedFileError(f"compressed file was written by the {_backend_name(flags)} backend and decodes "
                                  f"only with it (the backends' float results differ); this model runs on "
                                  f"{_backend_name(_backend_flags(model))}: decompress with --backend "
                                  f"{_backend_name(flags)}")
    payload = blob[HEADER_BYTES:]
    if zlib.crc32(payload) != payload_crc:
        raise CompressedFileError(f"compressed file is truncated or corrupted: its payload ({len(payload)} bytes) "
                                  "does not match the checksum in the header")
    if length == 0:
        if payload:
            raise CompressedFileError("compressed file is corrupted: payload after an empty original")
        return np.zeros(0, dtype=np.uint8)
    if flags & FLAG_BITWISE:
        return _decompress_bits(model, payload, length, digest)
    if len(payload) == 0 or len(payload) % 4:
        raise CompressedFileError(f"compressed file is truncated or corrupted: payload of {len(payload)} "
                                  "bytes is not a whole number of 32-bit words")
    payload_bits = 8 * len(payload) + SLACK_BITS
    if length > payload_bits / C_MIN:
        raise CompressedFileError(f"compressed file is corrupted: its header claims {length:,} bytes, more than "
                                  f"a {len(payload):,}-byte payload can hold (at most {int(payload_bits / C_MIN):,})")
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    fam = constriction.stream.model.Categorical(perfect=False)
    dec = constriction.stream.queue.RangeDecoder(words)
    st = model.stream()
    push, decode = st.push, dec.decode
    freq_row = _freq_row_fn(st)
    log2, ceil, scale, full, unit = math.log2, math.ceil, _LEAK_SCALE, float(QUANT_BITS), _COST_UNIT
    budget = int(payload_bits * unit)  # running cost, in units of 2**-32 bits
    spent = 0

    out = np.empty(min(length, OUT_START), dtype=np.uint8)
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
                spent += int((full - log2(1.0 + ceil(r[0, b] * scale))) * unit)  # the least b can cost
                if spent > budget:
                    raise CompressedFileError(
                        f"compressed file is truncated or corrupted: its {len(payload):,}-byte payload is used up "
                        f"after {t:,} of the {length:,} bytes its header claims")
                if t == len(out):
                    out = np.concatenate([out, np.empty(min(length - t, t), dtype=np.uint8)])
                out[t] = b
                push(b)
                if (t & 0xFFFF) == 0xFFFF:
                    bar.update(0x10000)
    except (InputError, CompressedFileError):  # the model's own failure, or the bound above
        raise
    except (AssertionError, ValueError, RuntimeError) as e:
        raise CompressedFileError(f"compressed file is truncated or corrupted (decoder failed at byte "
                                  f"{t} of {length}: {e})") from None
    if _digest8(out) != digest:
        raise CompressedFileError("compressed file is truncated or corrupted: the decoded bytes do not match "
                                  "the checksum of the original")
    return out


def _decompress_bits(model: CausalPredictor, payload: bytes, length: int, digest: bytes) -> np.ndarray:
    """A bitwise payload (flag 1) through the model's own decoder, within the bounds of the module docstring."""
    if not isinstance(model, BitCodingModel):
        raise CompressedFileError(f"compressed file holds a bitwise payload, which {model.name} cannot decode")
    payload_bits = 8 * len(payload) + SLACK_BITS
    if len(payload) < 4 or length > payload_bits / BIT_C_MIN:
        raise CompressedFileError(f"compressed file is corrupted: its header claims {length:,} bytes, more than "
                                  f"a {len(payload):,}-byte bitwise payload can hold")
    out = np.asarray(model.bit_decompress(payload, length), dtype=np.uint8)
    if len(out) != length or _digest8(out) != digest:
        raise CompressedFileError("compressed file is truncated or corrupted: the decoded bytes do not match "
                                  "the checksum of the original")
    return out


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

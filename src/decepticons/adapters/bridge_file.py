"""Bridge files: a teacher's per-position probability records over a corpus, as safetensors + JSON metadata.

For a corpus ``x: uint8[T]`` and a teacher whose row ``t`` is ``log q_t = log q(x_t | context)``
(``float64[T, 256]``; a causal teacher conditions on ``x_<t`` only), the file keeps the ``K`` most likely
bytes of every row and the mass left over::

    tensor            dtype  shape    content
    top_index         U8     [T, K]   the K most likely bytes of row t, most likely first
    top_log_prob      F16    [T, K]   log q_t(top_index[t, j]), non-increasing along j, >= LOG_FLOOR
    rest_log_mass     F16    [T]      log(1 - sum_j q_t(top_index[t, j])), >= LOG_FLOOR
    target_log_prob   F32    [T]      log q_t(x_t), the teacher's log-probability of the byte that occurs
    entropy           F16    [T]      H(q_t) in bits (of the full row, before truncation)
    peak              F16    [T]      max_c q_t(c)
    top_k_mass        F16    [T]      sum of the K largest q_t(c)
    margin            F16    [T]      q_t(c_1) - q_t(c_2)

Reading a row back (:meth:`BridgeRecord.dense_log_probs`) spreads the rest mass evenly over the other
``256 - K`` bytes, ``q_t(c) = exp(rest_t) / (256 - K)`` for ``c`` outside the top ``K``, and normalises the row
(``K = 256`` stores the full distribution). String metadata: ``format`` (``decepticons-bridge``),
``format_version`` (``1``), ``teacher_kind``, ``teacher_fingerprint``, ``teacher_causal`` (``true`` or
``false``), ``corpus_sha256``, ``corpus_length`` (``T``), ``top_k`` (``K``), ``log_floor``, ``version``,
``content_sha256`` (sha256 over every tensor's name, dtype, shape and bytes) and ``checksum`` (sha256 over
every other metadata entry).

:func:`read_bridge_file` refuses, with an :class:`~decepticons.errors.InputError` naming the file: anything
:func:`~decepticons.runtime.tensor_file.read_safetensors` refuses (not a regular file, a header larger than
the file, a tensor table that does not tile the data; nothing is allocated before these checks, so memory
is bounded by the file's size), another format or version, a metadata checksum or content hash that does
not match, metadata out of range, a tensor missing, extra, of another dtype or shape than ``T`` and ``K``
say, and values that are not a probability record (non-finite, log-probabilities above 0 or below the
floor, top indices repeated within a row or out of order, a row whose mass is not 1 within
``MASS_TOLERANCE``, diagnostics out of their ranges). :meth:`BridgeRecord.check_corpus` refuses a corpus of
another length or content than the one the record was exported over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..runtime.files import atomic_write_bytes
from ..runtime.tensor_file import read_safetensors

FORMAT = "decepticons-bridge"
FORMAT_VERSION = "1"
#: smallest log-probability stored (nats); smaller values are raised to it
LOG_FLOOR = -60.0
#: how far a stored row's total mass may be from 1 (float16 rounding of the log-probabilities)
MASS_TOLERANCE = 0.02
#: largest corpus a record may cover
MAX_LENGTH = 1 << 40
#: rows checked at a time when a file is verified (bounds the checks' scratch memory)
CHECK_ROWS = 1 << 16
#: tensor name -> (dtype, per-row shape: "K" for the top-k axis)
TENSORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "top_index": ("uint8", ("K",)), "top_log_prob": ("float16", ("K",)), "rest_log_mass": ("float16", ()),
    "target_log_prob": ("float32", ()), "entropy": ("float16", ()), "peak": ("float16", ()),
    "top_k_mass": ("float16", ()), "margin": ("float16", ()),
}


class BridgeArrays(TypedDict):
    """The arrays of a :class:`BridgeRecord`, by field name (the names of :data:`TENSORS`)."""

    top_index: np.ndarray
    top_log_prob: np.ndarray
    rest_log_mass: np.ndarray
    target_log_prob: np.ndarray
    entropy: np.ndarray
    peak: np.ndarray
    top_k_mass: np.ndarray
    margin: np.ndarray


#: diagnostics and their allowed ranges
DIAGNOSTIC_RANGES = {"entropy": (0.0, 8.0), "peak": (0.0, 1.0), "top_k_mass": (0.0, 1.0), "margin": (0.0, 1.0)}
_SHA = re.compile(r"[0-9a-f]{64}")
_SLACK = 0.01  # float16 rounding allowance on bounded values


def corpus_sha256(data: BytesLike) -> str:
    """sha256 hex digest of a corpus's bytes (read in slices, so a memory map is never copied whole)."""
    x = as_byte_array(data)
    h = hashlib.sha256()
    for s in range(0, len(x), 1 << 24):
        h.update(np.ascontiguousarray(x[s:s + (1 << 24)]).tobytes())
    return h.hexdigest()


def content_sha256(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _checksum(meta: dict[str, str]) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class BridgeRecord:
    """A teacher's probability record over one corpus (the arrays of the module docstring, numpy)."""

    top_index: np.ndarray        # uint8[T, K]
    top_log_prob: np.ndarray     # float16[T, K]
    rest_log_mass: np.ndarray    # float16[T]
    target_log_prob: np.ndarray  # float32[T]
    entropy: np.ndarray          # float16[T], bits
    peak: np.ndarray             # float16[T]
    top_k_mass: np.ndarray       # float16[T]
    margin: np.ndarray           # float16[T]
    teacher_kind: str
    teacher_fingerprint: str
    teacher_causal: bool
    corpus_sha256: str
    path: str | None = None

    # ------------------------------------------------------------------------------------------ facts
    @property
    def length(self) -> int:
        """``T``: the corpus length the record covers (one row per byte)."""
        return int(self.top_index.shape[0])

    @property
    def top_k(self) -> int:
        return int(self.top_index.shape[1])

    @property
    def teacher_bits_per_byte(self) -> float:
        """The teacher's bits per byte on the corpus it was exported over, ``-mean_t log2 q_t(x_t)``."""
        return float(-np.mean(self.target_log_prob, dtype=np.float64) / np.log(2.0))

    @property
    def identity(self) -> str:
        """sha256 over the record's contents and the corpus it covers (what a training run records)."""
        return hashlib.sha256((self.corpus_sha256 + content_sha256(self.arrays())).encode()).hexdigest()

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in TENSORS}

    def metadata(self) -> dict[str, str]:
        from ..version import __version__

        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "teacher_kind": self.teacher_kind,
                "teacher_fingerprint": self.teacher_fingerprint,
                "teacher_causal": "true" if self.teacher_causal else "false",
                "corpus_sha256": self.corpus_sha256, "corpus_length": str(self.length), "top_k": str(self.top_k),
                "log_floor": repr(LOG_FLOOR), "version": __version__,
                "content_sha256": content_sha256(self.arrays())}
        meta["checksum"] = _checksum(meta)
        return meta

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "teacher_kind": self.teacher_kind, "teacher_fingerprint": self.teacher_fingerprint,
                "teacher_causal": self.teacher_causal, "corpus_sha256": self.corpus_sha256,
                "corpus_length": self.length, "top_k": self.top_k,
                "teacher_bits_per_byte": self.teacher_bits_per_byte,
                "mean_entropy_bits": float(np.mean(self.entropy, dtype=np.float64)),
                "mean_top_k_mass": float(np.mean(self.top_k_mass, dtype=np.float64))}

    # ------------------------------------------------------------------------------------------ use
    def check_corpus(self, data: BytesLike, name: str = "corpus") -> None:
        """Refuse ``data`` unless it is the corpus the record was exported over (length, then sha256)."""
        x = as_byte_array(data, name=name)
        where = self.path or "the bridge record"
        if len(x) != self.length:
            raise InputError(f"{where} covers {self.length:,} bytes, but the {name} has {len(x):,}: a bridge file "
                             f"is used with the corpus it was exported over")
        if corpus_sha256(x) != self.corpus_sha256:
            raise InputError(f"{where} was exported over another {name} of the same length (sha256 "
                             f"{self.corpus_sha256[:16]}..., this one {corpus_sha256(x)[:16]}...)")

    def window_targets(self, offsets: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Teacher rows for training windows: the window at offset ``o`` predicts bytes ``o + 1 .. o + L``, so
        it reads rows ``o + 1 .. o + L``. Returns ``(index int64[B, L, K], log_prob float32[B, L, K],
        rest float32[B, L])``."""
        o = np.asarray(offsets, dtype=np.int64)
        if o.size and (o.min() < 0 or o.max() + seq_len >= self.length):
            raise InputError(f"training windows at offsets {int(o.min())}..{int(o.max())} of {seq_len} bytes reach "
                             f"past the {self.length:,} rows of the bridge record")
        rows = o[:, None] + 1 + np.arange(seq_len, dtype=np.int64)[None]
        return (self.top_index[rows].astype(np.int64), self.top_log_prob[rows].astype(np.float32),
                self.rest_log_mass[rows].astype(np.float32))

    def dense_log_probs(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start .. stop - 1`` as normalised ``float64[n, 256]`` log-probabilities (module docstring)."""
        stop = self.length if stop is None else stop
        if not 0 <= start <= stop <= self.length:
            raise InputError(f"rows {start}..{stop} are outside the {self.length:,} rows of the bridge record")
        return dense_rows(self.top_index[start:stop], self.top_log_prob[start:stop], self.rest_log_mass[start:stop])

    # ------------------------------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the record atomically; returns its content sha256."""
        from safetensors.numpy import save

        arrays = {k: np.ascontiguousarray(v) for k, v in self.arrays().items()}
        for name, (dtype, _) in TENSORS.items():
            if arrays[name].dtype != np.dtype(dtype):
                raise InputError(f"bridge record tensor {name!r} is {arrays[name].dtype}, expected {dtype}")
        meta = self.metadata()
        atomic_write_bytes(path, save(arrays, metadata=meta))
        self.path = str(path)
        return meta["content_sha256"]

    def validate(self, where: str = "bridge record") -> None:
        """Refuse arrays that are not a probability record (module docstring), checking ``CHECK_ROWS`` at a time."""
        T, K = self.top_index.shape if self.top_index.ndim == 2 else (-1, -1)
        if not (1 <= K <= 256 and T >= 1):
            raise InputError(f"{where}: top_index has shape {self.top_index.shape}, expected [T >= 1, K in 1..256]")
        for name, (dtype, per_row) in TENSORS.items():
            a = getattr(self, name)
            want = (T, *(K for _ in per_row))
            if a.dtype != np.dtype(dtype) or a.shape != want:
                raise InputError(f"{where}: tensor {name!r} is {a.dtype}{list(a.shape)}, expected {dtype}{list(want)}")
        for s in range(0, T, CHECK_ROWS):
            _check_rows(self, slice(s, min(T, s + CHECK_ROWS)), where)


def dense_rows(index: np.ndarray, log_prob: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Normalised ``float64[..., 256]`` rows from top-k indices ``[..., K]``, log-probabilities ``[..., K]``
    and rest masses ``[...]``: the rest spread evenly over the bytes outside the top ``K``."""
    k = index.shape[-1]
    fill = np.asarray(rest, dtype=np.float64) - (np.log(256 - k) if k < 256 else 0.0)
    out = np.repeat(fill[..., None], 256, axis=-1) if k < 256 else np.full((*index.shape[:-1], 256), LOG_FLOOR)
    np.put_along_axis(out, np.asarray(index, dtype=np.int64), np.asarray(log_prob, dtype=np.float64), axis=-1)
    m = out.max(axis=-1, keepdims=True)
    return out - (m + np.log(np.exp(out - m).sum(axis=-1, keepdims=True)))


def _check_rows(r: BridgeRecord, sl: slice, where: str) -> None:
    lp = r.top_log_prob[sl].astype(np.float64)
    rest = r.rest_log_mass[sl].astype(np.float64)
    rows = f"rows {sl.start}..{sl.stop - 1}"
    for name, a in (("top_log_prob", lp), ("rest_log_mass", rest), ("target_log_prob", r.target_log_prob[sl])):
        if not np.all(np.isfinite(a)):
            raise InputError(f"{where}: {name} holds non-finite values in {rows}")
        if np.any(a > _SLACK) or np.any(a < LOG_FLOOR - 1.0):
            raise InputError(f"{where}: {name} holds log-probabilities outside [{LOG_FLOOR:g}, 0] in {rows}")
    if np.any(np.diff(lp, axis=1) > 0):
        raise InputError(f"{where}: the top-k log-probabilities are not in decreasing order in {rows}")
    idx = np.sort(r.top_index[sl], axis=1)
    if np.any(idx[:, 1:] == idx[:, :-1]):
        raise InputError(f"{where}: a byte appears twice among the top-k indices of a row in {rows}")
    mass = np.exp(lp).sum(axis=1) + (np.exp(rest) if r.top_k < 256 else 0.0)
    bad = np.flatnonzero(np.abs(mass - 1.0) > MASS_TOLERANCE)
    if bad.size:
        raise InputError(f"{where}: row {sl.start + int(bad[0])} holds probability mass {mass[bad[0]]:.4f}, not 1 "
                         f"(tolerance {MASS_TOLERANCE})")
    for name, (lo, hi) in DIAGNOSTIC_RANGES.items():
        a = getattr(r, name)[sl].astype(np.float64)
        if not np.all(np.isfinite(a)) or np.any(a < lo - _SLACK) or np.any(a > hi * (1 + _SLACK)):
            raise InputError(f"{where}: diagnostic {name!r} holds values outside [{lo:g}, {hi:g}] in {rows}")


def _check_metadata(meta: dict[str, str], p: Path) -> None:
    if meta.get("format") != FORMAT:
        raise InputError(f"{p} is not a decepticons bridge file (format={meta.get('format')!r:.80})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{p} uses bridge format version {meta.get('format_version')!r:.80}; this version reads "
                         f"{FORMAT_VERSION!r}")
    if meta.get("checksum") != _checksum(meta):
        raise InputError(f"{p} is corrupted: its metadata does not match the checksum stored in it")
    for key in ("corpus_length", "top_k"):
        v = meta.get(key, "")
        if not v.isdigit() or len(v) > 16:
            raise InputError(f"{p}: metadata {key} = {v!r:.40} is not a whole number")
    if not 1 <= int(meta["corpus_length"]) <= MAX_LENGTH:
        raise InputError(f"{p}: corpus_length {meta['corpus_length']} is outside 1..{MAX_LENGTH}")
    if not 1 <= int(meta["top_k"]) <= 256:
        raise InputError(f"{p}: top_k {meta['top_k']} is outside 1..256")
    for key in ("corpus_sha256", "content_sha256"):
        if not _SHA.fullmatch(meta.get(key, "")):
            raise InputError(f"{p}: metadata {key} is not a sha256 hex digest")
    if meta.get("teacher_causal") not in ("true", "false"):
        raise InputError(f"{p}: metadata teacher_causal = {meta.get('teacher_causal')!r:.40}; allowed: true, false")
    if meta.get("log_floor") != repr(LOG_FLOOR):
        raise InputError(f"{p}: log_floor {meta.get('log_floor')!r:.40} is not this version's {LOG_FLOOR!r}")


def read_bridge_file(path: str | os.PathLike[str], corpus: BytesLike | None = None) -> BridgeRecord:
    """Read and verify a bridge file (module docstring); with ``corpus``, also check it is the corpus the
    record covers. Memory: the file's size, bounded before anything is read, plus the arrays."""
    p = Path(path)
    meta, tensors = read_safetensors(p, lambda m: _check_metadata(m, p), error=InputError, what="bridge file")
    T, K = int(meta["corpus_length"]), int(meta["top_k"])
    if set(tensors) != set(TENSORS):
        missing, extra = sorted(set(TENSORS) - set(tensors)), sorted(set(tensors) - set(TENSORS))
        raise InputError(f"{p} does not hold a bridge record: missing tensors {missing}, unknown tensors {extra}")
    for name, (dtype, per_row) in TENSORS.items():
        want = [T, *(K for _ in per_row)]
        a = tensors[name]
        if a.dtype != np.dtype(dtype) or list(a.shape) != want:
            raise InputError(f"{p}: tensor {name!r} is {a.dtype}{list(a.shape)}; corpus_length {T} and top_k {K} "
                             f"say {dtype}{want}")
    if content_sha256(tensors) != meta["content_sha256"]:
        raise InputError(f"{p} is corrupted: its tensors do not match the content hash stored in it")
    record = BridgeRecord(**tensors, teacher_kind=meta.get("teacher_kind", "?"),
                          teacher_fingerprint=meta.get("teacher_fingerprint", ""),
                          teacher_causal=meta["teacher_causal"] == "true", corpus_sha256=meta["corpus_sha256"],
                          path=str(p))
    record.validate(str(p))
    if corpus is not None:
        record.check_corpus(corpus)
    return record


__all__ = ["CHECK_ROWS", "FORMAT", "FORMAT_VERSION", "LOG_FLOOR", "MASS_TOLERANCE", "TENSORS", "BridgeArrays",
           "BridgeRecord", "content_sha256", "corpus_sha256", "dense_rows", "read_bridge_file"]

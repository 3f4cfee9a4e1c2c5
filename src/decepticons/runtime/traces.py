"""Traces: one record per position for any model (what it predicted, how sure it was, what fired).

For ``x: uint8[T]`` and the model's rows ``L = log_probs(x)`` (``float64[T, 256]``, read in chunks through
``iter_log_probs``), the record of position t is::

    bits[t]      = -L[t, x_t] / ln 2                     float32   code length of the actual byte
    entropy[t]   = -sum_c p_t(c) log2 p_t(c)             float32   with p_t = exp(L[t])
    top1[t]      = argmax_c p_t(c)                       uint8     the most likely byte
    top1_prob[t] = p_t(top1[t])                          float32
    byte[t]      = x_t                                   uint8

plus the columns of the model's :meth:`TraceFields.trace_fields` when it implements that protocol (each a
1-D array of length T saying which part of the model decided the byte: the count memories and the coder the
context order, the mixer its longest seen order, match length and dominant input). Models without it (the
causal bank, the transformer, the readout expert) give the five columns above.

File format (``.safetensors``, written atomically; never pickle): one 1-D tensor of length T per column, by
column name, and string metadata ``format = "decepticons-trace"``, ``format_version = "1"``, ``kind`` (the
model's registry name), ``fingerprint`` (the model's, may be empty), ``bytes`` (T), ``input_sha256`` (of
``x``) and ``columns`` (JSON list of the column names in order). :func:`read_trace` checks all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2, CausalPredictor
from .files import write_output
from .tensor_file import read_safetensors

TRACE_FORMAT = "decepticons-trace"
TRACE_FORMAT_VERSION = "1"
#: the columns every model's trace has, in order
BASE_COLUMNS = ("bits", "entropy", "top1", "top1_prob", "byte")


@runtime_checkable
class TraceFields(Protocol):
    """Optional model hook: per-position columns saying what decided each byte.

    ``trace_fields(data) -> {name: array[T]}`` runs the same causal pass as ``log_probs(data)`` (adaptive
    models learn from the bytes as they go, from the fitted state, which is never mutated) through a path
    of its own, so the scoring path is not slowed.
    """

    def trace_fields(self, data: BytesLike) -> dict[str, np.ndarray]: ...


@dataclass
class Trace:
    """Per-position records of one model on one input (module docstring); ``columns[name]: array[T]``."""

    kind: str
    bytes: int
    input_sha256: str
    columns: dict[str, np.ndarray] = field(repr=False)
    fingerprint: str = ""

    @property
    def bits_per_byte(self) -> float:
        return float(np.mean(self.columns["bits"], dtype=np.float64))

    def to_dict(self, include_columns: bool = False) -> dict[str, object]:
        d: dict[str, object] = {"kind": self.kind, "bytes": self.bytes, "input_sha256": self.input_sha256,
                                "fingerprint": self.fingerprint, "columns": list(self.columns),
                                "bits_per_byte": self.bits_per_byte}
        if include_columns:
            d["records"] = {k: v.tolist() for k, v in self.columns.items()}
        return d

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the trace file (module docstring) atomically; ``-`` is standard output."""
        from safetensors.numpy import save

        meta = {"format": TRACE_FORMAT, "format_version": TRACE_FORMAT_VERSION, "kind": self.kind,
                "fingerprint": self.fingerprint, "bytes": str(self.bytes), "input_sha256": self.input_sha256,
                "columns": json.dumps(list(self.columns))}
        tensors = {k: np.ascontiguousarray(v) for k, v in self.columns.items()}
        write_output(str(path), save(tensors, metadata=meta), "--trace")


def _base_columns(model: CausalPredictor, x: np.ndarray, chunk_size: int) -> dict[str, np.ndarray]:
    n = len(x)
    bits = np.empty(n, np.float32)
    entropy = np.empty(n, np.float32)
    top1 = np.empty(n, np.uint8)
    top1_prob = np.empty(n, np.float32)
    pos = 0
    for block in model.iter_log_probs(x, chunk_size=chunk_size):
        m = len(block)
        idx = np.arange(m)
        b = x[pos:pos + m]
        p = np.exp(block)
        with np.errstate(invalid="ignore"):
            plogp = np.where(p > 0, p * block, 0.0)
        bits[pos:pos + m] = -block[idx, b] / LN2
        entropy[pos:pos + m] = -plogp.sum(axis=1) / LN2
        best = np.argmax(block, axis=1)
        top1[pos:pos + m] = best
        top1_prob[pos:pos + m] = p[idx, best]
        pos += m
    if pos != n:
        raise RuntimeError(f"{type(model).__name__}.iter_log_probs yielded {pos} rows for {n} bytes")
    return {"bits": bits, "entropy": entropy, "top1": top1, "top1_prob": top1_prob, "byte": x.copy()}


def trace(model: CausalPredictor, data: BytesLike, chunk_size: int = 1 << 14,
          fingerprint: str = "") -> Trace:
    """The :class:`Trace` of ``model`` on ``data``: the base columns, then the model's own
    (:class:`TraceFields`); ``chunk_size`` bounds the rows held at once (``chunk_size x 256`` floats)."""
    x = np.ascontiguousarray(as_byte_array(data))
    if len(x) == 0:
        raise InputError("cannot trace an empty input")
    cols = _base_columns(model, x, chunk_size)
    if isinstance(model, TraceFields):
        for name, col in model.trace_fields(x).items():
            col = np.asarray(col)
            if name in cols or col.shape != (len(x),):
                raise RuntimeError(f"{type(model).__name__}.trace_fields gave column {name!r} of shape "
                                   f"{col.shape} (names must be new, shapes ({len(x)},))")
            cols[name] = col
    return Trace(kind=model.name, bytes=len(x), input_sha256=hashlib.sha256(x.tobytes()).hexdigest(),
                 columns=cols, fingerprint=fingerprint)


def _check_trace_metadata(meta: dict[str, str], p: str) -> None:
    if meta.get("format") != TRACE_FORMAT:
        raise InputError(f"{p} is a safetensors file but not a decepticons trace (format={meta.get('format')!r:.80})")
    if meta.get("format_version") != TRACE_FORMAT_VERSION:
        raise InputError(f"{p} uses trace format version {meta.get('format_version')!r:.80}; this version reads "
                         f"{TRACE_FORMAT_VERSION!r}")


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read and check a trace file: its format, and one 1-D column of length ``bytes`` per listed name."""
    p = str(path)
    meta, tensors = read_safetensors(p, lambda m: _check_trace_metadata(m, p), error=InputError, what="trace")
    try:
        n = int(meta["bytes"])
        names = json.loads(meta["columns"])
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise ValueError("columns is not a list of names")
    except (KeyError, ValueError, TypeError, RecursionError) as e:
        raise InputError(f"{p} is a corrupted trace: {str(e)[:200]}") from None
    if sorted(names) != sorted(tensors) or not set(BASE_COLUMNS) <= set(names):
        raise InputError(f"{p} is a corrupted trace: its columns {sorted(tensors)} do not match the listed "
                         f"{sorted(names)} (which must include {list(BASE_COLUMNS)})")
    bad = [k for k, v in tensors.items() if v.shape != (n,)]
    if bad:
        raise InputError(f"{p} is a corrupted trace: columns {bad[:3]} are not 1-D of length {n}")
    return Trace(kind=meta.get("kind", ""), bytes=n, input_sha256=meta.get("input_sha256", ""),
                 columns={k: tensors[k] for k in names}, fingerprint=meta.get("fingerprint", ""))


__all__ = ["BASE_COLUMNS", "TRACE_FORMAT", "TRACE_FORMAT_VERSION", "Trace", "TraceFields", "read_trace", "trace"]

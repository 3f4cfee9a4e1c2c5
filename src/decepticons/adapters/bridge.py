"""Bridge export: a teacher's probability record over a corpus, written as a bridge file a student consumes.

For any source of log-probabilities (a :class:`~decepticons.predictor.CausalPredictor`, or a non-causal
analysis model with ``log_probs(data) -> float64[T, 256]``), :class:`BridgeExportAdapter` reads the rows
``log q_t`` over the corpus ``x: uint8[T]`` block by block (``iter_log_probs`` for a predictor, so memory is
bounded by the block) and keeps, per row (the format of :mod:`.bridge_file`)::

    top_index[t]       = the K bytes c with the largest q_t(c), most likely first
    top_log_prob[t, j] = max(log q_t(top_index[t, j]), LOG_FLOOR)
    rest_log_mass[t]   = max(log(1 - sum_j q_t(top_index[t, j])), LOG_FLOOR)
    target_log_prob[t] = log q_t(x_t)
    entropy, peak, top_k_mass, margin  = probability_diagnostics(log q, top_k=K)   (decepticons.views)

An adaptive teacher (the mixer) predicts each byte before it learns it: its rows over the corpus are its
prequential predictions, not an in-sample fit. The metadata record the teacher's kind and fingerprint,
whether it is causal, and the corpus's sha256 and length, so a student is never trained on another corpus.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import CausalPredictor
from ..validation import Validated, spec
from ..views.diagnostics import probability_diagnostics
from .bridge_file import LOG_FLOOR, BridgeArrays, BridgeRecord, corpus_sha256

#: rows the export reads and compresses at a time
EXPORT_CHUNK = 1 << 16
#: top-k kept per row by default
DEFAULT_TOP_K = 16


@runtime_checkable
class ProbabilitySource(Protocol):
    """Anything with ``log_probs(data) -> float64[T, 256]`` (row t: a distribution over byte t)."""

    def log_probs(self, data: BytesLike) -> np.ndarray: ...


def compress_rows(lp: np.ndarray, x: np.ndarray, top_k: int) -> dict[str, np.ndarray]:
    """The bridge arrays of ``[n, 256]`` log-probability rows ``lp`` over bytes ``x`` (module docstring)."""
    a = np.asarray(lp, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 256 or len(a) != len(x):
        raise InputError(f"the teacher returned rows of shape {a.shape} for {len(x)} bytes; expected [{len(x)}, 256]")
    if np.isnan(a).any() or np.isposinf(a).any():
        raise InputError("the teacher returned NaN or +inf log-probabilities")
    k = top_k
    idx = np.argpartition(-a, k - 1, axis=1)[:, :k] if k < 256 else np.broadcast_to(np.arange(256), a.shape)
    top = np.take_along_axis(a, idx, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    idx, top = np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)
    rest = np.clip(1.0 - np.exp(top).sum(axis=1), 0.0, 1.0)
    d = probability_diagnostics(a, top_k=k)
    with np.errstate(divide="ignore"):
        rest_log = np.maximum(np.log(rest), LOG_FLOOR)
    return {"top_index": idx.astype(np.uint8), "top_log_prob": np.maximum(top, LOG_FLOOR).astype(np.float16),
            "rest_log_mass": rest_log.astype(np.float16),
            "target_log_prob": np.maximum(a[np.arange(len(x)), x], LOG_FLOOR).astype(np.float32),
            "entropy": d.entropy.astype(np.float16), "peak": d.peak.astype(np.float16),
            "top_k_mass": d.top_k_mass.astype(np.float16), "margin": d.top2_margin.astype(np.float16)}


@dataclass
class BridgeExportConfig(Validated):
    """Options of a bridge export."""

    top_k: int = spec(DEFAULT_TOP_K, lo=1, hi=256, doc="most likely bytes kept per row (256: the whole row)")
    causal: bool | None = spec(None, optional=True, doc="whether the teacher is causal (default: what a "
                                                        "CausalPredictor declares, False for any other source)")
    chunk_size: int = spec(EXPORT_CHUNK, lo=1, hi=1 << 24, doc="rows read and compressed at a time")


class BridgeExportAdapter:
    """Export a teacher's rows over a corpus as a :class:`~.bridge_file.BridgeRecord` (module docstring);
    options in :class:`BridgeExportConfig` (keywords or a ``config`` instance)."""

    def __init__(self, teacher: ProbabilitySource, config: BridgeExportConfig | None = None, **options: Any) -> None:
        if not isinstance(teacher, ProbabilitySource):
            raise InputError(f"a bridge teacher needs log_probs(data); {type(teacher).__name__} has none")
        self.teacher = teacher
        self.config = BridgeExportConfig.from_dict({**(config.to_dict() if config else {}), **options})

    @property
    def top_k(self) -> int:
        return self.config.top_k

    @property
    def teacher_kind(self) -> str:
        return self.teacher.name if isinstance(self.teacher, CausalPredictor) else type(self.teacher).__name__

    def _blocks(self, x: np.ndarray) -> Iterator[np.ndarray]:
        if isinstance(self.teacher, CausalPredictor):
            yield from self.teacher.iter_log_probs(x, chunk_size=self.config.chunk_size)
            return
        lp = self.teacher.log_probs(x)
        step = self.config.chunk_size
        for s in range(0, len(x), step):
            yield lp[s:s + step]

    def export(self, corpus: BytesLike, path: str | os.PathLike[str] | None = None) -> BridgeRecord:
        """The teacher's record over ``corpus`` (written to ``path`` atomically when given)."""
        x = as_byte_array(corpus, name="corpus")
        if len(x) == 0:
            raise InputError("cannot export a bridge record over an empty corpus")
        parts: dict[str, list[np.ndarray]] = {}
        pos = 0
        for block in self._blocks(x):
            n = len(block)
            if pos + n > len(x):
                break
            for name, a in compress_rows(block, x[pos:pos + n], int(self.top_k)).items():
                parts.setdefault(name, []).append(a)
            pos += n
        if pos != len(x):
            raise InputError(f"the teacher gave {pos} rows for a corpus of {len(x)} bytes")
        fp = self.teacher.fingerprint() if isinstance(self.teacher, CausalPredictor) else ""
        default = isinstance(self.teacher, CausalPredictor) and bool(self.teacher.causal)  # an oracle: False
        causal = default if self.config.causal is None else self.config.causal
        if causal and isinstance(self.teacher, CausalPredictor) and not self.teacher.causal:
            raise InputError(f"{self.teacher.name} declares itself non-causal; its bridge file cannot say causal=True")
        # every block gave the arrays of compress_rows, one per name of BridgeArrays
        arrays = cast(BridgeArrays, {k: np.concatenate(v) for k, v in parts.items()})
        record = BridgeRecord(**arrays, teacher_kind=self.teacher_kind, teacher_fingerprint=fp,
                              teacher_causal=causal, corpus_sha256=corpus_sha256(x))
        record.validate("exported bridge record")
        if path is not None:
            record.save(path)
        return record


__all__ = ["DEFAULT_TOP_K", "EXPORT_CHUNK", "BridgeExportAdapter", "BridgeExportConfig", "ProbabilitySource",
           "compress_rows"]

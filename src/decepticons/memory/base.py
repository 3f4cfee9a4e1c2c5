"""CountMemory: shared machinery of the count-based memories (fit, score, stream, persistence).

A count memory keeps byte counts after contexts of several orders in one :class:`CountTables` and turns
them into a distribution with the escape chain of :mod:`.kernels.chain`. When ``online`` is
set the memory is adaptive (prequential): while it scores it keeps counting the bytes it has already
seen, always starting from a private copy of the fitted tables, which are never mutated.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..coding.frequencies import quantizer
from ..errors import InputError
from ..jit import Kernels, get_kernels, specialise
from ..predictor import LN2, CausalPredictor, Stream
from ..runtime.progress import ByteProgress
from ..runtime.reports import FitReport, ScoreReport
from .config import CountConfig
from .count_tables import CountTables
from .kernels import INFO_N, INFO_ROW, INFO_U, REC_ARGMAX, ChainBuffers, CountParams

_FIT_CHUNK = 1 << 16


class KeepsFitInfo(Protocol):
    """A predictor that keeps the summary of its last fit report in ``fit_info`` (saved with the model)."""

    fit_info: dict[str, Any]

    @property
    def adaptive(self) -> bool: ...

    def score(self, data: BytesLike, trace: bool = False, progress: bool | None = None) -> ScoreReport: ...


def finish_fit(model: KeepsFitInfo, report: FitReport, valid: BytesLike | None,
               progress: bool | None) -> FitReport:
    """Score ``valid`` (when given and non-empty) into ``report`` and keep the report's summary in
    ``model.fit_info`` (saved with the model)."""
    if valid is not None:
        v = as_byte_array(valid, name="valid")
        if len(v):
            sr = model.score(v, progress=progress)
            report.valid_bytes = len(v)
            report.valid_bits_per_byte = sr.bits_per_byte
            report.details["valid_adaptive"] = model.adaptive
    model.fit_info = {k: v for k, v in report.to_dict().items() if k != "details"}
    return report


class CountMemory(CausalPredictor):
    """Base of the count memories. Subclasses set ``name`` and ``config_class`` (their options, with
    defaults and allowed ranges); options are given as keywords or as a ``config`` instance."""

    name: ClassVar[str] = "count-memory"
    config_class: ClassVar[type[Any]] = CountConfig

    def __init__(self, config: Any = None, *, use_numba: bool = True, seed: int = 0, **options: Any) -> None:
        base = dataclasses.asdict(config) if config is not None else {}
        self.config = self.config_class.from_dict({**base, **options})
        cfg = self.config
        self.orders = list(cfg.orders)
        self.discount = np.asarray(cfg.discount, dtype=np.float64)
        self.escape = np.asarray(cfg.escape, dtype=np.float64)
        self.exclusion = cfg.exclusion
        self.max_total = cfg.max_total
        self.online = cfg.online
        self.params = CountParams(np.asarray(self.orders, dtype=np.int64), self.discount, self.escape,
                                  self.exclusion, self.max_total)
        self.use_numba = bool(use_numba)
        self.seed = int(seed)
        self.tables = CountTables()
        self.fit_info: dict[str, Any] = {}

    # ------------------------------------------------------------------ properties
    @property
    def adaptive(self) -> bool:  # type: ignore[override]
        return self.online

    @property
    def _k(self) -> Kernels:
        return get_kernels(self.use_numba)

    def _buffers(self) -> tuple[ChainBuffers, np.ndarray]:
        """Fresh chain buffers and the row matrix ``L: float64[n_orders + 1, 256]``."""
        no = len(self.orders)
        buf = ChainBuffers(np.zeros(no, dtype=np.int64), np.zeros(no, dtype=np.int64), np.zeros(256),
                           np.zeros(3, dtype=np.int64))
        return buf, np.zeros((no + 1, 256))

    # ------------------------------------------------------------------ learning
    def _learn(self, tables: CountTables, x: np.ndarray, tgt: np.ndarray, progress: bool | None = None,
               desc: str = "fit") -> None:
        """Count every byte of ``x`` into ``tables``; ``tgt[t]`` = prequential ``log p(x_t)``."""
        buf, _ = self._buffers()
        with ByteProgress(len(x), desc=f"{desc} {self.name}", enabled=progress) as bar:
            for c0 in range(0, len(x), _FIT_CHUNK):
                end = min(len(x), c0 + _FIT_CHUNK)
                self._drive(self._k.ngram_fit_run, tables, x, c0, end, buf, tgt, 0)
                bar.update(end - c0)

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """Count ``data`` into empty tables (sequential: ``workers`` is unused); :meth:`partial_fit` adds to
        what the tables hold."""
        if len(as_byte_array(data)) == 0:  # refuse bad input before anything learned is dropped
            raise InputError("cannot fit on an empty corpus")
        self.tables = CountTables()
        return self._count_fit(data, valid, progress)

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None) -> FitReport:
        """Count ``data`` on top of what the tables already hold, as a further document (contexts do not
        reach back across the join)."""
        return self._count_fit(data, valid, progress)

    def _count_fit(self, data: BytesLike, valid: BytesLike | None, progress: bool | None) -> FitReport:
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        t0 = time.perf_counter()
        tgt = np.zeros(len(x))
        self._learn(self.tables, x, tgt, progress=progress)
        self.tables.compact(self.use_numba)  # contiguous follower lists: faster scoring, same predictions
        seconds = time.perf_counter() - t0
        report = FitReport(model=self.name, train_bytes=len(x), seconds=seconds,
                           train_bits_per_byte=float(-tgt.sum() / LN2 / len(x)), workers=1,
                           details={"contexts": self.tables.n_contexts, "nodes": self.tables.n_nodes,
                                    "train_bits_per_byte_is": "prequential (each byte scored before counting)",
                                    "numba": self._k.fast})
        return finish_fit(self, report, valid, progress)

    # ------------------------------------------------------------------ scoring
    def _drive(self, fn: Any, tables: CountTables, x: np.ndarray, start: int, end: int, *rest: Any) -> None:
        """Run a position kernel ``fn(tables, params, x, start, end, *rest)`` (:mod:`.kernels.runs`) over
        [start, end), growing the tables whenever it stops early."""
        t = start
        while t < end:
            t = fn(tables.arrays(), self.params, x, t, end, *rest)
            if t < end:
                tables.grow(len(self.orders), self.use_numba)

    def _working_tables(self, n: int) -> CountTables:
        return self.tables.copy(spare=n * (len(self.orders) + 1)) if self.online else self.tables

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        x = np.asarray(as_byte_array(data))
        tables = self._working_tables(min(len(x), 1 << 20))
        k = self._k
        buf, L = self._buffers()
        for c0 in range(0, len(x), chunk_size):
            end = min(len(x), c0 + chunk_size)
            out = np.empty((end - c0, 256))
            self._drive(k.ngram_run, tables, x, c0, end, self.online, buf, L, out, c0)
            yield out

    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        if len(x) == 0:
            return np.zeros((0, 256))
        return np.concatenate(list(self.iter_log_probs(x, chunk_size=max(1, len(x)))), axis=0)

    def records(self, data: BytesLike) -> dict[str, np.ndarray]:
        """Per-position facts, same causal run as :meth:`log_probs` (adaptive when ``online``).

        ``order_probs float64[T, n_orders + 1]`` p_r(x_t) at every order r (order 0 first);
        ``order_used int64[T]`` the longest seen context length (0 = none); ``count``/``distinct int64[T]``
        its N and u; ``predicted int64[T]`` argmax of p; ``top1 float64[T]`` its probability.
        """
        x = np.asarray(as_byte_array(data))
        n = len(x)
        rec_p = np.empty((n, len(self.orders) + 1))
        rec_int = np.empty((n, 4), dtype=np.int64)
        rec_top = np.empty(n)
        tables = self._working_tables(n)
        buf, L = self._buffers()
        self._drive(self._k.records_run, tables, x, 0, n, self.online, buf, L, rec_p, rec_int, rec_top, 0)
        lengths = np.asarray([0] + self.orders, dtype=np.int64)
        return {"order_probs": rec_p, "order_used": lengths[rec_int[:, INFO_ROW]],
                "count": rec_int[:, INFO_N].copy(), "distinct": rec_int[:, INFO_U].copy(),
                "predicted": rec_int[:, REC_ARGMAX].copy(), "top1": rec_top}

    def trace_fields(self, data: BytesLike) -> dict[str, np.ndarray]:
        """What decided each byte (the model's columns of a trace, ``decepticons.runtime.traces``), from
        :meth:`records`: ``order int64[T]`` the longest context (bytes) whose counts were seen at prefix time
        (0: none, order 0 alone), ``context_count`` / ``context_distinct int64[T]`` its N and u."""
        rec = self.records(data)
        return {"order": rec["order_used"], "context_count": rec["count"], "context_distinct": rec["distinct"]}

    def stream(self) -> Stream:
        return CountStream(self)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def state_tensors(self) -> dict[str, np.ndarray]:
        return self.tables.tensors()

    def extra_state(self) -> dict[str, Any]:
        return {"fit": self.fit_info}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> Self:
        model = cls(**config)
        model.tables = CountTables.from_tensors(tensors)
        model.fit_info = dict(extra.get("fit", {}))
        return model

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(self.config_dict())
        d.update({"contexts": self.tables.n_contexts, "nodes": self.tables.n_nodes})
        return d


class CountStream(Stream):
    """Step-by-step path of a :class:`CountMemory`: the same kernels, one position per call (bound to their
    argument types once, so a call skips numba's type dispatch)."""

    def __init__(self, model: CountMemory) -> None:
        self.m = model
        self.k = model._k
        self.tables = model._working_tables(1 << 12)
        self.hist = np.zeros(1 << 12, dtype=np.uint8)
        self.t = 0
        self.buf, self.L = model._buffers()
        self._row = np.empty((1, 256))
        self._tgt = np.zeros(1)
        self._cached = False
        self._tb = self.tables.arrays()
        self._predict_run = specialise(self._predict_kernel(), *self._predict_args(0))
        self._count_run = specialise(self.k.ngram_fit_run, *self._count_args(0))
        self._quantize = quantizer(model.use_numba)

    def _predict_kernel(self) -> Any:
        return self.k.ngram_run

    def _predict_args(self, t: int) -> tuple[Any, ...]:
        """Arguments of the prediction kernel for position t (no learning, row into ``_row[0]``)."""
        return (self._tb, self.m.params, self.hist, t, t + 1, False, self.buf, self.L, self._row, t)

    def _count_args(self, t: int) -> tuple[Any, ...]:
        return (self._tb, self.m.params, self.hist, t, t + 1, self.buf, self._tgt, t)

    def log_probs(self) -> np.ndarray:
        if not self._cached:
            self._predict_run(*self._predict_args(self.t))
            self._cached = True
        return self._row[0].copy()

    def coding_freqs(self) -> np.ndarray:
        """Quantised frequencies of the model's own probabilities (``p_top``, no log round trip)."""
        self.log_probs()
        out = np.empty(256)
        self._quantize(self.buf.P, out)
        return out

    def push(self, byte: int) -> None:
        if self.t >= len(self.hist):  # byte: checked by Stream (check_byte)
            self.hist = np.concatenate([self.hist, np.zeros(len(self.hist), dtype=np.uint8)])
        self.hist[self.t] = byte
        m = self.m
        if m.online:
            while self._count_run(*self._count_args(self.t)) == self.t:
                self.tables.grow(len(m.orders), m.use_numba)
                self._tb = self.tables.arrays()
        self.t += 1
        self._cached = False

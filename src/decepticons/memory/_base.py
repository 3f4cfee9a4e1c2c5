"""CountMemory: shared machinery of the count-based memories (fit, score, stream, persistence).

A count memory keeps byte counts after contexts of several orders in one :class:`CountTables` and turns
them into a distribution with the interpolated-escape recursion of :mod:`._kernels`. When ``online`` is
set the memory is adaptive (prequential): while it scores it keeps counting the bytes it has already
seen, always starting from a private copy of the fitted tables, which are never mutated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2, CausalPredictor, Stream
from ..runtime.progress import ByteProgress
from ..runtime.reports import FitReport
from ._kernels import get_kernels
from ._tables import CountTables

_FIT_CHUNK = 1 << 16


def _per_order(value: float | list[float], n: int, name: str) -> np.ndarray:
    """Broadcast a scalar or a list of ``n`` values (order 0 first) to ``float64[n]``."""
    if isinstance(value, (int, float)):
        arr = np.full(n, float(value))
    else:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (n,):
            raise InputError(f"{name} needs one value or {n} values (order 0 first), got {len(arr)}")
    return arr


def finish_fit(model: CausalPredictor, report: FitReport, valid: BytesLike | None,
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


def check_orders(orders: list[int] | int) -> list[int]:
    if isinstance(orders, (int, np.integer)):
        orders = list(range(1, int(orders) + 1))
    try:
        if isinstance(orders, (str, bytes)):
            raise TypeError
        orders = [int(k) for k in orders]
    except (TypeError, ValueError):
        raise InputError(f"orders must be an int or a list of ints, got {orders!r}") from None
    if not orders or sorted(set(orders)) != orders or orders[0] < 1 or orders[-1] > 24:
        raise InputError(f"orders must be strictly increasing context lengths in 1..24, got {orders}")
    return orders


class CountMemory(CausalPredictor):
    """Base of the count memories. Subclasses set ``name`` and may restrict the configuration."""

    name: ClassVar[str] = "count-memory"

    def __init__(self, orders: list[int] | int = 6, discount: float | list[float] = 0.7,
                 escape: float | list[float] = 0.3, exclusion: bool = True, max_total: int = 1 << 30,
                 online: bool = True, use_numba: bool = True, seed: int = 0) -> None:
        self.orders = check_orders(orders)
        n = len(self.orders) + 1
        self.discount = _per_order(discount, n, "discount")
        self.escape = _per_order(escape, n, "escape")
        if np.any(self.discount < 0) or np.any(self.discount >= 1) or np.any(self.escape < 0):
            raise InputError("discount must lie in [0, 1) and escape must be >= 0")
        if np.any((self.discount == 0) & (self.escape == 0)):
            raise InputError("discount and escape cannot both be 0 for one order (no escape mass)")
        if int(max_total) < 2:
            raise InputError(f"max_total must be >= 2, got {max_total}")
        self.exclusion = bool(exclusion)
        self.max_total = int(max_total)
        self.online = bool(online)
        self.use_numba = bool(use_numba)
        self.seed = int(seed)
        self.tables = CountTables()
        self.fit_info: dict[str, Any] = {}

    # ------------------------------------------------------------------ properties
    @property
    def adaptive(self) -> bool:  # type: ignore[override]
        return self.online

    @property
    def _k(self):
        return get_kernels(self.use_numba)

    @property
    def _orders_arr(self) -> np.ndarray:
        return np.asarray(self.orders, dtype=np.int64)

    def _buffers(self):
        no = len(self.orders)
        return (np.zeros(no, dtype=np.int64), np.zeros(no, dtype=np.int64), np.zeros(256),
                np.zeros((no + 1, 256)), np.zeros(3, dtype=np.int64))

    # ------------------------------------------------------------------ learning
    def _learn(self, tables: CountTables, x: np.ndarray, tgt: np.ndarray, progress: bool | None = None,
               desc: str = "fit") -> None:
        """Count every byte of ``x`` into ``tables``; ``tgt[t]`` = prequential ``log p(x_t)``."""
        k = self._k
        ctxk, slots, *_ = self._buffers()
        orders = self._orders_arr
        with ByteProgress(len(x), desc=f"{desc} {self.name}", enabled=progress) as bar:
            for c0 in range(0, len(x), _FIT_CHUNK):
                end = min(len(x), c0 + _FIT_CHUNK)
                t = c0
                while t < end:
                    t = k.ngram_fit_run(*tables.args(), x, t, end, orders, self.discount, self.escape,
                                        self.exclusion, self.max_total, tgt, 0, ctxk, slots)
                    if t < end:
                        tables.grow(len(orders), self.use_numba)
                bar.update(end - c0)

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """Count ``data`` on top of what the tables already hold (sequential: ``workers`` is unused)."""
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
    def _drive(self, fn, tables: CountTables, x: np.ndarray, start: int, end: int, learn: bool, *rest) -> None:
        """Run a position kernel ``fn`` over [start, end), growing the tables whenever it stops early."""
        orders = self._orders_arr
        t = start
        while t < end:
            t = fn(*tables.args(), x, t, end, orders, self.discount, self.escape, learn, self.exclusion,
                   self.max_total, *rest)
            if t < end:
                tables.grow(len(orders), self.use_numba)

    def _working_tables(self, n: int) -> CountTables:
        return self.tables.copy(spare=n * (len(self.orders) + 1)) if self.online else self.tables

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        x = np.asarray(as_byte_array(data))
        tables = self._working_tables(min(len(x), 1 << 20))
        k = self._k
        ctxk, slots, P, L, info = self._buffers()
        for c0 in range(0, len(x), chunk_size):
            end = min(len(x), c0 + chunk_size)
            out = np.empty((end - c0, 256))
            self._drive(k.ngram_run, tables, x, c0, end, self.online, out, c0, ctxk, slots, P, L, info)
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
        ctxk, slots, P, L, info = self._buffers()
        self._drive(self._k.records_run, tables, x, 0, n, self.online, rec_p, rec_int, rec_top, 0, ctxk, slots,
                    P, L, info)
        lengths = np.asarray([0] + self.orders, dtype=np.int64)
        return {"order_probs": rec_p, "order_used": lengths[rec_int[:, 0]], "count": rec_int[:, 1].copy(),
                "distinct": rec_int[:, 2].copy(), "predicted": rec_int[:, 3].copy(), "top1": rec_top}

    def stream(self) -> Stream:
        return CountStream(self)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return {"orders": list(self.orders), "discount": self.discount.tolist(), "escape": self.escape.tolist(),
                "exclusion": self.exclusion, "max_total": self.max_total, "online": self.online}

    def state_tensors(self) -> dict[str, np.ndarray]:
        return self.tables.tensors()

    def extra_state(self) -> dict[str, Any]:
        return {"fit": self.fit_info}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> CountMemory:
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
    """Step-by-step path of a :class:`CountMemory`: same kernels, one position per call."""

    def __init__(self, model: CountMemory) -> None:
        self.m = model
        self.k = model._k
        self.tables = model._working_tables(1 << 12)
        self.hist = np.zeros(1 << 12, dtype=np.uint8)
        self.t = 0
        self.ctxk, self.slots, self.P, self.L, self.info = model._buffers()
        self.orders = model._orders_arr
        self._row = np.empty((1, 256))
        self._tgt = np.zeros(1)
        self._cached = False

    def log_probs(self) -> np.ndarray:
        if not self._cached:
            m = self.m
            self.k.ngram_run(*self.tables.args(), self.hist, self.t, self.t + 1, self.orders, m.discount,
                             m.escape, False, m.exclusion, m.max_total, self._row, self.t, self.ctxk,
                             self.slots, self.P, self.L, self.info)
            self._cached = True
        return self._row[0].copy()

    def coding_freqs(self) -> np.ndarray:
        """Quantised frequencies of the model's own probabilities (``p_top``, no log round trip)."""
        self.log_probs()
        out = np.empty(256)
        self.k.quantize_probs(self.P, out)
        return out

    def push(self, byte: int) -> None:
        byte = int(byte)
        if not 0 <= byte < 256:
            raise InputError(f"byte must be in 0..255, got {byte}")
        if self.t >= len(self.hist):
            self.hist = np.concatenate([self.hist, np.zeros(len(self.hist), dtype=np.uint8)])
        self.hist[self.t] = byte
        m = self.m
        if m.online:
            while self.k.ngram_fit_run(*self.tables.args(), self.hist, self.t, self.t + 1, self.orders,
                                       m.discount, m.escape, m.exclusion, m.max_total, self._tgt, self.t,
                                       self.ctxk, self.slots) == self.t:
                self.tables.grow(len(self.orders), m.use_numba)
        self.t += 1
        self._cached = False

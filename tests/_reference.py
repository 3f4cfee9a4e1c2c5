"""A small exact predictor for testing code written against the contract (score, generate, model files, CLI).

``TablePredictor`` is an order-1 Markov model: ``log p(x_t | x_<t) = table[x_{t-1}, x_t]`` and
``start[x_0]`` for the first byte. Its ``fit`` counts bigrams with add-``smoothing`` pseudo-counts, so every
number it produces can be recomputed by hand in a test.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from decepticons.codecs import BytesLike, as_byte_array
from decepticons.predictor import LN2, CausalPredictor, Stream, log_softmax
from decepticons.runtime.reports import FitReport


class TableStream(Stream):
    def __init__(self, model: TablePredictor) -> None:
        self._model = model
        self._prev: int | None = None

    def log_probs(self) -> np.ndarray:
        m = self._model
        return (m.start if self._prev is None else m.table[self._prev]).copy()

    def push(self, byte: int) -> None:
        self._prev = int(byte)


class TablePredictor(CausalPredictor):
    """Order-1 table: ``table: float64[256, 256]`` (rows are log-distributions), ``start: float64[256]``."""

    name: ClassVar[str] = "test-table"

    def __init__(self, table: np.ndarray | None = None, start: np.ndarray | None = None, *, seed: int = 0,
                 smoothing: float = 1.0, sharpness: float = 3.0, context_length: int | None = None) -> None:
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.smoothing = float(smoothing)
        self.sharpness = float(sharpness)
        self.context_length = context_length
        self.table = (np.asarray(table, dtype=np.float64) if table is not None
                      else log_softmax(sharpness * rng.standard_normal((256, 256))))
        self.start = (np.asarray(start, dtype=np.float64) if start is not None
                      else log_softmax(sharpness * rng.standard_normal(256)))
        if self.table.shape != (256, 256) or self.start.shape != (256,):
            raise ValueError(f"bad table shapes {self.table.shape}, {self.start.shape}")

    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        out = np.empty((len(x), 256), dtype=np.float64)
        if len(x):
            out[0] = self.start
            out[1:] = self.table[x[:-1]]
        return out

    def stream(self) -> Stream:
        return TableStream(self)

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1) -> FitReport:
        t0 = time.perf_counter()
        x = as_byte_array(data).astype(np.int64)
        counts = np.full((256, 256), self.smoothing)
        np.add.at(counts, (x[:-1], x[1:]), 1.0)
        first = np.full(256, self.smoothing)
        first[x[0]] += 1.0
        self.table = np.log(counts / counts.sum(axis=1, keepdims=True))
        self.start = np.log(first / first.sum())
        seconds = time.perf_counter() - t0
        train_bpb = self.score(x).bits_per_byte
        report = FitReport(model=self.name, train_bytes=len(x), seconds=seconds, train_bits_per_byte=train_bpb,
                           workers=workers)
        if valid is not None:
            v = as_byte_array(valid)
            report.valid_bytes = len(v)
            report.valid_bits_per_byte = self.score(v).bits_per_byte
        return report

    # persistence
    def config_dict(self) -> dict[str, Any]:
        return {"smoothing": self.smoothing, "sharpness": self.sharpness, "context_length": self.context_length}

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {"table": self.table, "start": self.start}

    def extra_state(self) -> dict[str, Any]:
        return {"note": "order-1 table"}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> TablePredictor:
        return cls(table=tensors["table"], start=tensors["start"], **config)


class OtherTablePredictor(TablePredictor):
    """The same model under another registry name (to check that loaders refuse other kinds)."""

    name: ClassVar[str] = "test-other"


def reference_bits(model: TablePredictor, data: bytes) -> np.ndarray:
    """Per-byte code length in bits, by a plain loop over the tables (independent of ``log_probs``)."""
    out = []
    prev = None
    for b in data:
        row = model.start if prev is None else model.table[prev]
        out.append(-row[b] / LN2)
        prev = b
    return np.array(out)


def reference_greedy(model: TablePredictor, prompt: bytes, steps: int) -> bytes:
    out = bytearray(prompt)
    for _ in range(steps):
        row = model.start if not out else model.table[out[-1]]
        out.append(int(np.argmax(row)))
    return bytes(out)

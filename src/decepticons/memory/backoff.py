"""BackoffPredictor: a fitted mixture over orders with a prefix-time fallback for unseen contexts.

At position t let ``s`` be the longest order whose context has been seen before (known before x_t is:
the fallback is decided at prefix time). The prediction is a linear mixture of the per-order estimates
``p_r`` (the escape chain of :mod:`.kernels.chain`) up to ``s``::

    p(c | x_<t) = sum_{r <= s} lam[s, r] * p_r(c),        sum_r lam[s, r] = 1

The weights ``lam`` (shape ``[n_orders + 1, n_orders + 1]``, lower triangular) are fitted by EM on a
held-out tail of the training corpus (the counts are built on the head, then keep counting through the
tail, so every EM statistic is prequential): ``lam[s, r] <- mean over {t: s_t = s} of
lam[s, r] p_r(x_t) / sum_r' lam[s, r'] p_r'(x_t)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2, CausalPredictor
from ..runtime.reports import FitReport
from .base import CountMemory, CountStream, finish_fit
from .config import BackoffConfig
from .count_tables import CountTables
from .kernels import INFO_ROW


class BackoffPredictor(CountMemory):
    """Order mixture with EM-fitted weights per highest-seen order; options in
    :class:`~decepticons.memory.config.BackoffConfig`."""

    name: ClassVar[str] = "backoff"
    config_class: ClassVar[type[Any]] = BackoffConfig

    def __init__(self, config: Any = None, *, use_numba: bool = True, seed: int = 0, **options: Any) -> None:
        super().__init__(config, use_numba=use_numba, seed=seed, **options)
        self.holdout = self.config.holdout
        self.em_iters = self.config.em_iters
        n = len(self.orders) + 1
        # default before fitting: all weight on the longest seen order (plain backoff)
        self.lam = np.eye(n)

    @staticmethod
    def fit_weights(order_probs: np.ndarray, s: np.ndarray, iters: int) -> np.ndarray:
        """EM for the per-``s`` mixture weights from ``order_probs[t, r] = p_r(x_t)``."""
        n = order_probs.shape[1]
        lam = np.zeros((n, n))
        for si in range(n):
            rows = order_probs[s == si, :si + 1]
            w = np.full(si + 1, 1.0 / (si + 1))
            if len(rows):
                for _ in range(iters):
                    resp = rows * w
                    resp /= resp.sum(axis=1, keepdims=True)
                    w = resp.mean(axis=0)
                    w = np.maximum(w, 1e-6)
                    w /= w.sum()
            else:
                w = np.zeros(si + 1)
                w[si] = 1.0
            lam[si, :si + 1] = w
        return lam

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        x = np.asarray(as_byte_array(data))
        if len(x) < 2:
            raise InputError("backoff needs at least 2 training bytes (counts, then a held-out tail)")
        self.tables = CountTables()  # fit starts from scratch
        t0 = time.perf_counter()
        cut = min(len(x) - 1, max(1, int(round(len(x) * (1.0 - self.holdout)))))
        tgt = np.zeros(cut)
        self._learn(self.tables, x[:cut], tgt, progress=progress)
        # continue counting through the tail while recording every order's prequential probability
        n = len(x) - cut
        rec_p = np.empty((n, len(self.orders) + 1))
        rec_int = np.empty((n, 4), dtype=np.int64)
        rec_top = np.empty(n)
        buf, L = self._buffers()
        self._drive(self._k.records_run, self.tables, x, cut, len(x), True, buf, L, rec_p, rec_int, rec_top, cut)
        s = rec_int[:, INFO_ROW]
        self.lam = self.fit_weights(rec_p, s, self.em_iters)
        mix = (rec_p * self.lam[s]).sum(axis=1)
        tail_bits = float(-np.log2(mix).sum())
        seconds = time.perf_counter() - t0
        report = FitReport(model=self.name, train_bytes=len(x), seconds=seconds,
                           train_bits_per_byte=(float(-tgt.sum() / LN2) + tail_bits) / len(x), workers=1,
                           details={"holdout_bytes": n, "holdout_bits_per_byte": tail_bits / n,
                                    "weights": self.lam.tolist(), "contexts": self.tables.n_contexts})
        return finish_fit(self, report, valid, progress)

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None) -> FitReport:
        """Refused: the backoff weights are fitted on the held-out tail of one pass (fit again on everything)."""
        return CausalPredictor.partial_fit(self, data, valid, workers, progress)

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        x = np.asarray(as_byte_array(data))
        tables = self._working_tables(min(len(x), 1 << 20))
        buf, L = self._buffers()
        for c0 in range(0, len(x), chunk_size):
            end = min(len(x), c0 + chunk_size)
            out = np.empty((end - c0, 256))
            self._drive(self._k.backoff_run, tables, x, c0, end, self.online, buf, L, self.lam, out, c0)
            yield out

    def stream(self) -> CountStream:
        return _BackoffStream(self)

    def state_tensors(self) -> dict[str, np.ndarray]:
        out = super().state_tensors()
        out["lam"] = self.lam
        return out

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> BackoffPredictor:
        model = super().from_state(config, {k: v for k, v in tensors.items() if k != "lam"}, extra)
        lam = np.asarray(tensors["lam"], dtype=np.float64)
        if lam.shape != model.lam.shape:
            raise ValueError(f"lam has shape {lam.shape}, expected {model.lam.shape}")
        model.lam = lam.copy()
        return model


class _BackoffStream(CountStream):
    """Step-by-step path: :func:`~.kernels.runs.backoff_run` for one position (prediction), the shared
    count update."""

    m: BackoffPredictor

    def _predict_kernel(self) -> Any:
        return self.k.backoff_run

    def _predict_args(self, t: int) -> tuple[Any, ...]:
        return (self._tb, self.m.params, self.hist, t, t + 1, False, self.buf, self.L, self.m.lam, self._row, t)

    def coding_freqs(self) -> np.ndarray:
        lp = self.log_probs()
        out = np.empty(256)
        self._quantize(np.exp(lp - lp.max()), out)
        return out

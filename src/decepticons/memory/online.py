"""OnlineNGramPredictor: an n-gram memory that keeps learning while it predicts, with recency.

The same interpolated-escape recursion as :class:`~decepticons.memory.ngram.NGramPredictor`, always adaptive:
after predicting byte t it counts it (strictly after: the prediction at t only ever sees ``x_<t``). Counts
of a context are halved whenever its total exceeds ``max_total`` (``n <- ceil(n / 2)``), so recent text
weighs more than old text, the way PPM compressors rescale. ``prime=False`` ignores ``fit`` and starts every
scoring run from empty tables (a pure online model); ``prime=True`` starts from the fitted counts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike
from ..runtime.reports import FitReport
from ._base import CountMemory
from ._tables import CountTables


class OnlineNGramPredictor(CountMemory):
    """Always-adaptive n-gram memory with count halving (recency)."""

    name: ClassVar[str] = "online-ngram"

    def __init__(self, orders: list[int] | int = 5, discount: float | list[float] = 0.7,
                 escape: float | list[float] = 0.3, exclusion: bool = True, max_total: int = 255,
                 prime: bool = True, use_numba: bool = True, seed: int = 0, online: bool = True) -> None:
        super().__init__(orders=orders, discount=discount, escape=escape, exclusion=exclusion,
                         max_total=max_total, online=True, use_numba=use_numba, seed=seed)
        del online  # always on
        self.prime = bool(prime)

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        if self.prime:
            return super().fit(data, valid=valid, workers=workers, progress=progress)
        tables, self.tables = self.tables, CountTables()
        try:  # measure what an unprimed run on the training text gives, keep nothing
            report = super().fit(data, valid=None, workers=workers, progress=progress)
        finally:
            self.tables = tables
        if valid is not None:
            sr = self.score(valid, progress=progress)
            report.valid_bytes = sr.bytes
            report.valid_bits_per_byte = sr.bits_per_byte
        report.details["prime"] = False
        return report

    def config_dict(self) -> dict[str, Any]:
        d = super().config_dict()
        d["prime"] = self.prime
        return d

    def state_tensors(self) -> dict[str, np.ndarray]:
        return self.tables.tensors()

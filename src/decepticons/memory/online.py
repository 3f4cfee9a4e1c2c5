"""OnlineNGramPredictor: an n-gram memory that keeps learning while it predicts, with recency.

The same escape chain as :class:`~decepticons.memory.ngram.NGramPredictor`, always adaptive:
after predicting byte t it counts it (strictly after: the prediction at t only ever sees ``x_<t``). Counts
of a context are halved whenever its total exceeds ``max_total`` (``n <- ceil(n / 2)``), so recent text
weighs more than old text, the way PPM compressors rescale. ``prime=False`` ignores ``fit`` and starts every
scoring run from empty tables (a pure online model); ``prime=True`` starts from the fitted counts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..codecs import BytesLike
from ..errors import InputError
from ..runtime.reports import FitReport
from .base import CountMemory
from .config import OnlineNGramConfig
from .count_tables import CountTables


class OnlineNGramPredictor(CountMemory):
    """Always-adaptive n-gram memory with count halving (recency); options in
    :class:`~decepticons.memory.config.OnlineNGramConfig`."""

    name: ClassVar[str] = "online-ngram"
    config_class: ClassVar[type[Any]] = OnlineNGramConfig

    def __init__(self, config: Any = None, *, use_numba: bool = True, seed: int = 0, **options: Any) -> None:
        super().__init__(config, use_numba=use_numba, seed=seed, **options)
        self.prime = self.config.prime

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        if self.prime:
            return super().fit(data, valid=valid, workers=workers, progress=progress)
        try:  # measure what an unprimed run on the training text gives, keep nothing
            report = super().fit(data, valid=None, workers=workers, progress=progress)
        finally:
            self.tables = CountTables()
        if valid is not None:
            sr = self.score(valid, progress=progress)
            report.valid_bytes = sr.bytes
            report.valid_bits_per_byte = sr.bits_per_byte
        report.details["prime"] = False
        return report

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None) -> FitReport:
        if not self.prime:
            raise InputError("an unprimed online-ngram (prime=False) learns only while it scores: there is no fitted "
                             "state to continue")
        return super().partial_fit(data, valid=valid, workers=workers, progress=progress)

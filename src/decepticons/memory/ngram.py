"""NGramPredictor (registry name ``ngram``): smoothed n-gram tables over orders 0..k with online updates.

Counts of the bytes that followed every context of length 1..k (and order 0) live in one exact-key hash
table (:class:`~decepticons.memory.count_tables.CountTables`). The prediction is the escape chain of
:mod:`.kernels.chain` (absolute discount ``d_r`` with escape offset ``b_r`` per order, PPM update
exclusion giving lower orders Kneser-Ney-like continuation counts)::

    p_r(c) = max(n_r(c) - d_r, 0) / (N_r + b_r) + (d_r u_r + b_r) / (N_r + b_r) * p_{r-1}(c)

Shapes: ``log_probs(uint8[T]) -> float64[T, 256]``. With ``online=True`` (default) the model is adaptive:
it keeps counting the bytes it scores, strictly after predicting each one, from a private copy of the
fitted tables.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import CountMemory
from .config import NGramConfig


class NGramPredictor(CountMemory):
    """Interpolated n-gram memory of orders ``1..orders`` (or an explicit list) on top of order 0; options
    in :class:`~decepticons.memory.config.NGramConfig`."""

    name: ClassVar[str] = "ngram"
    config_class: ClassVar[type[Any]] = NGramConfig

"""ExactContextPredictor: the bytes that followed this exact context of one order k before.

One order-k count table (exact keys for k <= 6) over an order-0 table. With ``N`` the times the current
k-byte context was seen, ``n(c)`` how often ``c`` followed it and ``u`` the number of distinct followers::

    p(c) = max(n(c) - d, 0) / (N + b) + (d u + b) / (N + b) * p_0(c)

where ``p_0`` is the order-0 distribution smoothed the same way towards uniform; an unseen context gives
``p_0``. Shapes: ``log_probs(uint8[T]) -> float64[T, 256]``. With ``online`` (default) the counts keep
growing from the bytes already scored (prequential), from a private copy of the fitted tables.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import CountMemory
from .config import ExactContextConfig


class ExactContextPredictor(CountMemory):
    """Exact-context expert of a single order (``order`` bytes of history); options in
    :class:`~decepticons.memory.config.ExactContextConfig`."""

    name: ClassVar[str] = "exact-context"
    config_class: ClassVar[type[Any]] = ExactContextConfig

    @property
    def order(self) -> int:
        return self.orders[0]

    @property
    def context_length(self) -> int | None:  # type: ignore[override]
        return None

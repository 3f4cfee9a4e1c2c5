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

from ._base import CountMemory


class ExactContextPredictor(CountMemory):
    """Exact-context expert of a single order (``order`` bytes of history)."""

    name: ClassVar[str] = "exact-context"

    def __init__(self, order: int = 3, discount: float | list[float] = 0.7, escape: float | list[float] = 0.3,
                 exclusion: bool = False, max_total: int = 1 << 30, online: bool = True, use_numba: bool = True,
                 seed: int = 0) -> None:
        super().__init__(orders=[int(order)], discount=discount, escape=escape, exclusion=exclusion,
                         max_total=max_total, online=online, use_numba=use_numba, seed=seed)

    @property
    def order(self) -> int:
        return self.orders[0]

    @property
    def context_length(self) -> int | None:  # type: ignore[override]
        return None

    def config_dict(self) -> dict[str, Any]:
        d = super().config_dict()
        del d["orders"]
        d["order"] = self.order
        return d

"""Repeat a recipe over seeds and summarise: mean, sample standard deviation, min and max.

    summary = repeat_over_seeds(lambda seed: run_recipe(seed), seeds=(0, 1, 2))
    print(summary.mean, summary.std, summary.lo, summary.hi)

A headline figure is the mean of at least :data:`MIN_SEEDS` seeds; ``spread`` renders it as
``mean ± std (min..max, n seeds)``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: seeds a headline figure needs
MIN_SEEDS = 3


@dataclass(frozen=True)
class SeedSummary:
    """Per-seed values of one recipe and their mean and spread."""

    seeds: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(statistics.fmean(self.values))

    @property
    def std(self) -> float:
        """Sample standard deviation (``n - 1``); 0 for a single value."""
        return float(statistics.stdev(self.values)) if self.n > 1 else 0.0

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)

    @property
    def enough(self) -> bool:
        return self.n >= MIN_SEEDS

    def spread(self, digits: int = 4) -> str:
        return (f"{self.mean:.{digits}f} ± {self.std:.{digits}f} ({self.lo:.{digits}f}..{self.hi:.{digits}f}, "
                f"{self.n} seed{'s' if self.n != 1 else ''})")

    def to_dict(self) -> dict[str, object]:
        return {"seeds": list(self.seeds), "values": list(self.values), "mean": self.mean, "std": self.std,
                "min": self.lo, "max": self.hi, "n": self.n}


def summarise(pairs: Iterable[tuple[int, float]]) -> SeedSummary:
    """A :class:`SeedSummary` of ``(seed, value)`` pairs (one value per seed: a repeated seed is refused)."""
    items = list(pairs)
    seeds = tuple(int(s) for s, _ in items)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"a seed is repeated: {seeds}")
    values = tuple(float(v) for _, v in items)
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"needs at least one finite value, got {values}")
    return SeedSummary(seeds, values)


def repeat_over_seeds(recipe: Callable[[int], float], seeds: Sequence[int] = (0, 1, 2)) -> SeedSummary:
    """Run ``recipe(seed)`` once per seed, in order, and summarise the values it returns."""
    return summarise((s, recipe(s)) for s in seeds)


__all__ = ["MIN_SEEDS", "SeedSummary", "repeat_over_seeds", "summarise"]

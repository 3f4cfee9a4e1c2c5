"""The benchmarks' seed helper: a recipe repeated over seeds, its mean and spread."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from _seeds import MIN_SEEDS, repeat_over_seeds, summarise  # noqa: E402


def test_repeat_runs_the_recipe_once_per_seed_in_order():
    seen: list[int] = []

    def recipe(seed: int) -> float:
        seen.append(seed)
        return 2.0 + 0.01 * seed

    s = repeat_over_seeds(recipe, seeds=(0, 1, 2, 5))
    assert seen == [0, 1, 2, 5] and s.seeds == (0, 1, 2, 5) and s.n == 4 and s.enough
    assert s.mean == pytest.approx(statistics.fmean([2.0, 2.01, 2.02, 2.05]))
    assert s.std == pytest.approx(statistics.stdev([2.0, 2.01, 2.02, 2.05]))
    assert (s.lo, s.hi) == (2.0, pytest.approx(2.05))
    assert s.spread(3) == "2.020 ± 0.022 (2.000..2.050, 4 seeds)"
    assert s.to_dict()["values"] == [2.0, 2.01, 2.02, pytest.approx(2.05)]


def test_one_seed_is_not_enough_and_has_no_spread():
    s = summarise([(7, 2.3)])
    assert s.std == 0.0 and not s.enough and MIN_SEEDS == 3
    assert s.spread() == "2.3000 ± 0.0000 (2.3000..2.3000, 1 seed)"


@pytest.mark.parametrize("pairs", [[], [(0, 1.0), (0, 2.0)], [(0, float("nan"))]])
def test_bad_inputs_are_refused(pairs):
    with pytest.raises(ValueError):
        summarise(pairs)

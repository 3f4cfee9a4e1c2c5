"""The depth report of ``benchmarks/bench_mythos_depth.py``: difficulty quarters partition the bytes, the
depth histogram of each quarter sums to one, and the targets are judged from the figures they state."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_mythos_depth as bmd  # noqa: E402


def test_quartiles_partition_the_bytes_easiest_first() -> None:
    bits = np.random.default_rng(0).random(103)
    qs = bmd.quartiles(bits)
    assert sorted(np.concatenate(qs).tolist()) == list(range(103))
    assert [len(q) for q in qs] == [25, 26, 26, 26]
    for a, b in zip(qs, qs[1:]):
        assert bits[a].max() <= bits[b].min()


def test_depth_report_shares_and_means() -> None:
    bits = np.array([0.1, 0.2, 5.0, 6.0, 1.0, 1.5, 3.0, 4.0])
    depth = np.array([1, 1, 8, 6, 2, 2, 4, 8])
    rows = bmd.depth_report(bits, bits + 0.01, depth, 8)
    assert [r["mean_depth"] for r in rows] == [1.0, 2.0, 6.0, 7.0]
    for r in rows:
        assert abs(sum(r["depth_share"]) - 1.0) < 1e-12 and len(r["depth_share"]) == 8
    assert rows[3]["depth_share"][5] == 0.5 and rows[3]["depth_share"][7] == 0.5


def report(loops: dict[int, float], easy: float, hard: float, gap: float) -> dict:
    quarters = [{"mean_depth": d} for d in (easy, 4.0, 5.0, hard)]
    return {"loops": {str(k): v for k, v in loops.items()}, "max_loop_depth": 8, "quarters": quarters,
            "act_gap": gap, "act_bpb": 2.0, "act_mean_depth": 4.0, "fixed_depth": {"interpolated_bpb": 2.01}}


def test_targets_are_judged_from_the_figures() -> None:
    met = bmd.targets(report({1: 2.2, 8: 2.0, 16: 2.005}, easy=4.0, hard=7.0, gap=0.005))
    assert all(line.endswith("-> met") for line in met[:4]), met
    missed = bmd.targets(report({1: 2.05, 8: 2.0, 16: 2.02}, easy=5.0, hard=4.0, gap=0.02))
    assert all(line.endswith("not met") for line in missed[:4]), missed

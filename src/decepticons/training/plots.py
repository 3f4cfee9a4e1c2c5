"""Learning curves: the ``metrics.jsonl`` records of a run and their plot (train loss and held-out bits/byte)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..predictor import LN2


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file (lines cut by an interruption are skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out



def train_bits(record: dict[str, Any]) -> float | None:
    """A curve record's train loss in bits per byte: ``loss_bits_per_byte`` (reports), or ``loss`` in nats
    (the trainer's own metrics.jsonl)."""
    if record.get("loss_bits_per_byte") is not None:
        return float(record["loss_bits_per_byte"])
    return float(record["loss"]) / LN2 if record.get("loss") is not None else None

def plot_learning_curves(runs: dict[str, list[dict[str, Any]]], path: str | os.PathLike[str],
                         x: str = "elapsed", title: str | None = None) -> Path | None:
    """Train loss (bits/byte, thin) and held-out bits/byte (markers) of each run against ``x``
    (``elapsed`` seconds or ``step``) into a PNG. Returns ``None`` when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, recs) in enumerate(runs.items()):
        c = colors[i % len(colors)]
        tr = [(r[x], train_bits(r)) for r in recs if train_bits(r) is not None and r.get(x) is not None]
        va = [(r[x], r["valid_bpb"]) for r in recs if r.get("valid_bpb") is not None and r.get(x) is not None]
        if tr:
            ax.plot(*zip(*tr), color=c, alpha=0.45, lw=0.9, label=f"{label} train")
        if va:
            ax.plot(*zip(*va), color=c, marker="o", ms=3, lw=1.6, label=f"{label} held-out")
    ys = [r["valid_bpb"] for recs in runs.values() for r in recs if r.get("valid_bpb") is not None]
    ys += [b for recs in runs.values() for r in recs if (b := train_bits(r)) is not None]
    if ys:  # the first steps sit near 8 bits/byte; keep the interesting range readable
        lo = min(ys)
        ax.set_ylim(max(0.0, lo - 0.2), min(max(ys), lo + 2.5) + 0.05)
    ax.set_xlabel("seconds" if x == "elapsed" else x)
    ax.set_ylabel("bits per byte")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path



"""The bench's outputs: the JSON payload (schema :data:`~.rows.BENCH_SCHEMA`), a Markdown table and a plot."""

from __future__ import annotations

import os
from typing import Any

from .rows import BENCH_SCHEMA, BenchRow

COLUMNS = ("name", "static bits/byte", "adaptive bits/byte", "compressed file bits/byte", "fit s", "score KB/s",
           "model bytes")


def payload(rows: list[BenchRow], notes: list[str], facts: dict[str, Any]) -> dict[str, Any]:
    """The ``--json`` payload: schema name, run facts (corpus, sizes, options), one entry per row, notes."""
    return {"bench": {"schema": BENCH_SCHEMA, **facts, "rows": [r.to_dict() for r in rows], "notes": list(notes)}}


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def markdown_table(rows: list[BenchRow], notes: list[str]) -> str:
    """The table: one line per model then per compressor; skipped models and missing compressors below it."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
    for r in rows:
        if r.skipped:
            continue
        label = f"{r.name} ({r.note})" if r.note else r.name
        if r.kind == "model" and r.adaptive:
            label += " *"
        lines.append("| " + " | ".join([
            label, _num(r.static_bpb, ".3f"), _num(r.adaptive_bpb, ".3f"), _num(r.file_bpb, ".3f"),
            _num(r.fit_seconds, ".2f"), _num(r.score_kbps, ".1f"),
            "-" if r.model_bytes is None else f"{r.model_bytes:,}"]) + " |")
    text = "\n".join(lines) + "\n"
    text += ("\n`*` adaptive model: static = frozen after fit, adaptive = learning while it scores (prequential). "
             "Compressors: their file size (always adaptive).\n")
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return text


def plot(rows: list[BenchRow], path: str | os.PathLike[str], title: str) -> bool:
    """Adaptive bits/byte against model bytes (models) into ``path``; ``False`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    pts = [(float(r.model_bytes), float(r.adaptive_bpb), r) for r in rows
           if r.kind == "model" and r.model_bytes and r.adaptive_bpb is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for x, y, r in pts:
        ax.scatter(x, y, color="tab:blue")
        if r.static_bpb is not None and r.static_bpb != y:
            ax.scatter(x, r.static_bpb, color="tab:orange", marker="x")
        ax.annotate(r.name, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
    for r in rows:
        if r.kind == "compressor" and r.adaptive_bpb is not None:
            ax.axhline(r.adaptive_bpb, color="grey", lw=0.6, ls=":")
            ax.annotate(r.name, (0.99, r.adaptive_bpb), xycoords=("axes fraction", "data"), ha="right",
                        fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("model bytes (learned arrays)")
    ax.set_ylabel("bits/byte on valid (dot: adaptive, x: static)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True

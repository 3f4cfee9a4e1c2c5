"""The bench's outputs: the JSON payload (schema :data:`~.rows.BENCH_SCHEMA`), a Markdown table and a plot."""

from __future__ import annotations

import os
from typing import Any

from .rows import BENCH_SCHEMA, BenchRow

COLUMNS = ("name", "static bits/byte", "adaptive bits/byte", "compressed file bits/byte", "fit s", "wall s",
           "score KB/s", "model bytes")


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
            _num(r.fit_seconds, ".2f"), _num(r.seconds, ".2f"), _num(r.score_kbps, ".1f"),
            "-" if r.model_bytes is None else f"{r.model_bytes:,}"]) + " |")
    text = "\n".join(lines) + "\n"
    text += ("\n`*` adaptive model: static = frozen after fit, adaptive = learning while it scores (prequential). "
             "Compressors: their file size (always adaptive). Wall s: fit plus adaptive scoring (a model), "
             "compression (a compressor).\n")
    text += throughput_table(rows)
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return text


def throughput_table(rows: list[BenchRow]) -> str:
    """Forward tokens/s by sequence length of the torch models (empty when none was measured)."""
    measured = [r for r in rows if r.throughput]
    if not measured:
        return ""
    lens = sorted({int(e[0]) for r in measured for e in r.throughput})
    lines = ["", "Forward pass tokens/s (MFU) by sequence length (one window of held-out bytes, batch 1, best of "
             "3; MFU: counted matmul/attention FLOPs over the device's measured float32 matmul peak; '-': longer "
             "than the model's window):", "",
             "| model | " + " | ".join(f"{n:,}" for n in lens) + " |", "|---|" + "---:|" * len(lens)]
    for r in measured:
        got = {int(e[0]): e[1:] for e in r.throughput}
        cells = [f"{got[n][0]:,.0f} ({got[n][1]:.1%})" if n in got else "-" for n in lens]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_paths(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """The three plot files of ``--plot OUT``: ``OUT`` (bits/byte vs model bytes), ``OUT``'s stem + ``-time``
    (bits/byte vs wall time), + ``-seqlen`` (tokens/s vs sequence length)."""
    root, ext = os.path.splitext(os.fspath(path))
    ext = ext or ".png"
    return os.fspath(path), f"{root}-time{ext}", f"{root}-seqlen{ext}"


def plot(rows: list[BenchRow], path: str | os.PathLike[str], title: str) -> list[str] | None:
    """Write the bench's plots (:func:`plot_paths`); returns the files written (the sequence-length plot only
    when a torch model was measured), ``None`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    by_bytes, by_time, by_len = plot_paths(path)
    _plot_model_bytes(plt, rows, by_bytes, title)
    _plot_wall_time(plt, rows, by_time, title)
    written = [by_bytes, by_time]
    if any(r.throughput for r in rows):
        _plot_seq_len(plt, rows, by_len, title)
        written.append(by_len)
    return written


def _plot_wall_time(plt: Any, rows: list[BenchRow], path: str, title: str) -> None:
    """Adaptive bits/byte (dots: models, squares: compressors) against the wall seconds of the row's work."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        if r.adaptive_bpb is None or not r.seconds:
            continue
        model = r.kind == "model"
        ax.scatter(r.seconds, r.adaptive_bpb, color="tab:blue" if model else "grey", marker="o" if model else "s")
        ax.annotate(r.name, (r.seconds, r.adaptive_bpb), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    _finish(plt, fig, ax, path, title, "wall seconds (models: fit + adaptive scoring; compressors: compression)",
            "adaptive bits/byte on valid")


def _plot_seq_len(plt: Any, rows: list[BenchRow], path: str, title: str) -> None:
    """Forward tokens/s of each torch model against the window length."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        if r.throughput:
            ax.plot([e[0] for e in r.throughput], [e[1] for e in r.throughput], marker="o", label=r.name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    _finish(plt, fig, ax, path, title, "sequence length (bytes in one forward pass)", "forward tokens/s (batch 1)")


def _plot_model_bytes(plt: Any, rows: list[BenchRow], path: str, title: str) -> None:
    """Adaptive bits/byte against model bytes (models), compressors as horizontal lines."""
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
    _finish(plt, fig, ax, path, title, "model bytes (learned arrays)", "bits/byte on valid (dot: adaptive, x: static)")


def _finish(plt: Any, fig: Any, ax: Any, path: str, title: str, xlabel: str, ylabel: str) -> None:
    """Labels and title, then the PNG written and the figure closed."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

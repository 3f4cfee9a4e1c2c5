"""Plot of rollout curves: accuracy and bits/byte per step, free-running against teacher-forced."""

from __future__ import annotations

import io
import os

from .files import write_output
from .rollout import RolloutReport


def plot_rollout(reports: dict[str, RolloutReport], path: str | os.PathLike[str], title: str | None = None) -> bool:
    """Two panels over steps 1..k (per-step accuracy; bits/byte of the true byte): for each labelled report its
    rollout (solid) and teacher-forced (dashed) curve, into a PNG written atomically. Returns ``False`` when
    matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_acc, ax_bits) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=110)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, r) in enumerate(reports.items()):
        c = colors[i % len(colors)]
        steps = range(1, r.steps + 1)
        ax_acc.plot(steps, r.rollout_accuracy, color=c, lw=1.6, label=f"{label} free-running")
        ax_acc.plot(steps, r.teacher_accuracy, color=c, lw=1.0, ls="--", label=f"{label} teacher-forced")
        ax_bits.plot(steps, r.rollout_bits_per_byte, color=c, lw=1.6, label=f"{label} free-running")
        ax_bits.plot(steps, r.teacher_bits_per_byte, color=c, lw=1.0, ls="--", label=f"{label} teacher-forced")
    ax_acc.set_ylabel("accuracy (byte == truth)")
    ax_bits.set_ylabel("bits of the true byte")
    for ax in (ax_acc, ax_bits):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 1)
    ax_bits.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_output(str(path), buf.getvalue(), "--plot")
    return True


__all__ = ["plot_rollout"]

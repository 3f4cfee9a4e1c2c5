"""Runtime: model files, safe file writes, reports, progress, and the evaluations that run a model.

Evaluations (each its own module): :mod:`.rollout` (k-step free-running generation against teacher-forced
prediction), :mod:`.accounting` (model bytes + code length = total description length) and :mod:`.traces`
(one record per position, with what fired), :mod:`.transfer` (transfer probes) and :mod:`.html_report`
(the per-byte HTML page).
Their public names load on first use: ``decepticons.predictor``
imports this package's lower modules (progress, reports), so nothing here imports the evaluations eagerly.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    **{n: "decepticons.runtime.rollout" for n in (
        "RolloutCurve", "RolloutReport", "evaluate_rollout", "evaluate_rollout_curve")},
    "plot_rollout": "decepticons.runtime.rollout_plot",
    **{n: "decepticons.runtime.accounting" for n in ("ArtifactAccounting", "model_file_bytes")},
    **{n: "decepticons.runtime.traces" for n in (
        "BASE_COLUMNS", "Trace", "TraceFields", "read_trace", "trace")},
    **{n: "decepticons.runtime.html_report" for n in ("ByteRecords", "byte_records", "render_html", "write_html")},
    **{n: "decepticons.runtime.transfer" for n in ("TransferReport", "evaluate_transfer_probe")},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'decepticons.runtime' has no attribute {name!r}")


__all__ = sorted(_LAZY)

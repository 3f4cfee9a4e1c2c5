"""One row of the bench table (a model or a compressor) and the JSON schema name."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: name and version of the bench's JSON payload (``bench`` key); bump on any change of its fields
BENCH_SCHEMA = "decepticons.bench/2"


@dataclass
class BenchRow:
    """Figures of one model or compressor on the held-out split.

    ``static_bpb``: the model frozen while it scores (equal to ``adaptive_bpb`` for a static model; ``None``
    for a compressor or a model that cannot be frozen). ``adaptive_bpb``: prequential scoring, learning
    while it scores (a compressor's file size). ``file_bpb``: bits per byte of a real compressed file
    (``None`` when not written). ``score_kbps``: held-out KB scored per second (adaptive run).
    ``seconds``: wall time of the row's work, fit plus the adaptive scoring for a model, compression for a
    compressor (the x axis of the bits/byte vs wall time plot). ``params``: trainable parameters of a torch
    model. ``steps``: optimizer steps a torch model was trained for. ``throughput``: ``[[seq_len,
    tokens/s, mfu], ...]`` of a torch model's forward pass (:mod:`.throughput`).
    """

    name: str
    kind: str
    note: str
    static_bpb: float | None
    adaptive_bpb: float | None
    file_bpb: float | None
    fit_seconds: float | None
    score_kbps: float | None
    model_bytes: int | None
    file_bytes: int | None = None
    adaptive: bool = False
    skipped: str | None = None
    seconds: float | None = None
    params: int | None = None
    steps: int | None = None
    throughput: list[list[float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

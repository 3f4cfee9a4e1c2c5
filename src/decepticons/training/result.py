"""What a training run reports: :class:`TrainResult` (steps, tokens, seconds, losses; bits per byte)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..predictor import LN2
from ..runtime.reports import Report, fmt


@dataclass
class TrainResult(Report):
    """What a training run did: steps, tokens, time, the last loss and the held-out bits per byte."""

    model: str
    steps: int
    tokens: int
    seconds: float  # wall clock of the whole run (all sessions), final evaluation included
    train_seconds: float
    parameters: int
    stop_reason: str  # steps, tokens (a step or token budget reached), or budget (the time budget)
    #: CPU seconds of this process (all its threads) in this session, final evaluation included
    cpu_seconds: float = 0.0
    final_loss: float | None = None
    train_bits_per_byte: float | None = None
    valid_bits_per_byte: float | None = None
    valid_bytes: int = 0
    valid_capped: bool = False  # the final evaluation scored fewer bytes to fit the time budget
    eval_seconds: float = 0.0  # seconds of the final phase (evaluations, last checkpoint, plot)
    world_size: int = 1
    windows: str = "detached"  # how training windows were read: detached, or carried state (TrainConfig.mode)
    run_dir: str | None = None
    curve: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: with a teacher: its agreement with the student at the end (``teacher_kl_bits``, ``teacher_top1_agreement``)
    teacher: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Every loss in bits per byte: ``final_loss_bits_per_byte``, and ``loss_bits_per_byte`` in each curve
        record (the trainer keeps nats internally, as torch's cross-entropy gives them)."""
        d = super().to_dict()
        loss = d.pop("final_loss")
        d["final_loss_bits_per_byte"] = None if loss is None else loss / LN2
        d["tokens_per_second"] = self.tokens_per_second
        d["curve"] = [{**{k: v for k, v in r.items() if k != "loss"},
                       **({"loss_bits_per_byte": r["loss"] / LN2} if "loss" in r else {})} for r in self.curve]
        if self.teacher is not None:
            d["teacher"] = self.teacher
        return d

    def __str__(self) -> str:
        lines = [
            f"model              {self.model} ({self.parameters:,} parameters)",
            f"steps              {self.steps:,} ({self.stop_reason}; {self.windows} windows, "
            f"{self.world_size} process{'es' if self.world_size != 1 else ''})",
            f"tokens             {self.tokens:,} ({self.tokens_per_second / 1e3:,.1f} k tokens/s)",
            f"time               {self.seconds:.1f} s ({self.cpu_seconds:.1f} CPU-s)",
            f"last train loss    {fmt(None if self.final_loss is None else self.final_loss / LN2)} bits/byte",
        ]
        if self.train_bits_per_byte is not None:
            lines.append(f"train bits/byte    {fmt(self.train_bits_per_byte)}")
        if self.valid_bits_per_byte is not None:
            capped = ", capped to fit the budget" if self.valid_capped else ""
            lines.append(f"held-out bits/byte {fmt(self.valid_bits_per_byte)} ({self.valid_bytes:,} bytes{capped})")
        if self.teacher is not None:
            t = self.teacher
            lines.append(f"teacher agreement  KL {fmt(t['teacher_kl_bits'])} bits/byte, top-1 "
                         f"{t['teacher_top1_agreement']:.1%} ({t['teacher_positions']:,} {t['teacher_agreement_on']} "
                         f"bytes)")
        if self.run_dir:
            lines.append(f"run folder         {self.run_dir}")
        return "\n".join(lines)


__all__ = ["TrainResult"]

"""Paired teacher/export: distil a teacher into a causal torch student through the shared trainer.

:class:`TeacherExportAdapter` pairs a teacher (any :class:`~.bridge.ProbabilitySource`) with the training
of a :class:`~decepticons.training.TorchPredictor` student:

1. ``export(corpus)``: the teacher's rows over the training corpus, as a bridge record (:mod:`.bridge`);
2. ``distill(student, corpus)``: the shared trainer with that record as its teacher signal, minimising
   ``(1 - a) * CE(bytes) + a * tau^2 * KL(q^tau || p^tau)`` at every window position, where position ``t`` of
   the window at offset ``o`` is paired with the teacher's row ``o + 1 + t`` (the byte the student predicts;
   the student itself still sees only the bytes before it, so it stays causal);
3. ``compare(student, data)``: shared diagnostics on any bytes, from both models' own rows: each one's bits
   per byte, ``KL(q_t || p_t)`` in bits (teacher to student) and the top-1 agreement
   ``mean_t [argmax q_t == argmax p_t]``.

The trainer also reports the KL and top-1 agreement at each evaluation, on the held-out bytes the record
covers (:meth:`decepticons.training.Trainer.teacher_agreement`). Everything that imports torch is imported
when a method runs, so ``import decepticons.adapters`` needs numpy only.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..validation import Validated, spec
from .bridge import DEFAULT_TOP_K, BridgeExportAdapter, ProbabilitySource
from .bridge_file import BridgeRecord


@dataclass
class TeacherExportConfig(Validated):
    """Options of a teacher -> student pairing."""

    top_k: int = spec(DEFAULT_TOP_K, lo=1, hi=256, doc="teacher bytes kept per row in the bridge record")
    weight: float = spec(0.5, lo=0.0, hi=1.0, doc="a: the teacher term's share of the loss")
    temperature: float = spec(1.0, lo=0.0, lo_open=True, hi=100.0, doc="tau of the KL term")
    compare_bytes: int = spec(65536, lo=1, hi=1 << 24, doc="bytes compare() reads (from the start of its data)")


class TeacherExportAdapter:
    """A teacher paired with a student's training (module docstring); options in :class:`TeacherExportConfig`."""

    def __init__(self, teacher: ProbabilitySource, config: TeacherExportConfig | None = None,
                 **options: Any) -> None:
        self.teacher = teacher
        self.config = TeacherExportConfig.from_dict({**(config.to_dict() if config else {}), **options})
        self.exporter = BridgeExportAdapter(teacher, top_k=self.config.top_k)

    def export(self, corpus: BytesLike, path: str | os.PathLike[str] | None = None) -> BridgeRecord:
        """The teacher's bridge record over ``corpus`` (saved to ``path`` when given)."""
        return self.exporter.export(corpus, path)

    def distill(self, student: Any, train_data: BytesLike, valid_data: BytesLike | None = None,
                config: Any = None, record: BridgeRecord | None = None, run_dir: str | os.PathLike[str] | None = None,
                resume: bool = False, progress: bool | None = None) -> Any:
        """Train ``student`` on ``train_data`` with the teacher's soft targets; returns the
        :class:`~decepticons.training.TrainResult` (its ``teacher`` entry: the final agreement).

        ``record`` is a bridge record over ``train_data`` (exported here when not given); ``config`` a
        :class:`~decepticons.training.TrainConfig`, whose teacher weight and temperature this adapter sets.
        """
        from ..training import TorchPredictor, TrainConfig, train

        if not isinstance(student, TorchPredictor):
            raise InputError(f"the student must be a gradient-trained torch predictor, not {type(student).__name__}")
        x = as_byte_array(train_data, name="training data")
        record = self.export(x) if record is None else record
        cfg = dataclasses.replace(config or TrainConfig(), teacher_weight=self.config.weight,
                                  teacher_temperature=self.config.temperature)
        return train(student, x, valid_data, cfg, run_dir=run_dir, resume=resume, progress=progress, teacher=record)

    def compare(self, student: ProbabilitySource, data: BytesLike) -> dict[str, float]:
        """Teacher and student on the first ``compare_bytes`` of ``data``: bits per byte of each, KL(teacher ||
        student) in bits and top-1 agreement (each model's own rows; an adaptive model starts from its
        fitted state)."""
        from ..training.distill import agreement_summary

        x = as_byte_array(data)[:self.config.compare_bytes]
        if len(x) == 0:
            raise InputError("cannot compare teacher and student on empty data")
        q = np.asarray(self.teacher.log_probs(x), dtype=np.float64)
        p = np.asarray(student.log_probs(x), dtype=np.float64)
        rows = np.arange(len(x))
        out: dict[str, Any] = agreement_summary([(p, q)])
        out.update(teacher_bits_per_byte=float(-q[rows, x].mean() / np.log(2.0)),
                   student_bits_per_byte=float(-p[rows, x].mean() / np.log(2.0)))
        return out


__all__ = ["TeacherExportAdapter", "TeacherExportConfig"]

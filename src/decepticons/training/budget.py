"""Time budgets that include the final evaluation.

Rule. With ``budget_seconds = B`` the whole run is held to ``B`` seconds of wall clock, counted from the
trainer's construction: setup, training steps, in-run evaluations, checkpoints, and the final phase (held-out
and training-set evaluation, teacher agreement, the last checkpoint and the learning-curve plot). The trainer
measures what evaluation costs (a fixed cost per call and seconds per byte: a small probe before the first
step, then every evaluation of the run) and keeps a reserve ``R`` for the final phase:

* ``R = 1.25 * (calls * per_call + per_byte * bytes the final phase scores) + last checkpoint write + plot
  allowance`` (``per_call``: the fixed cost of one evaluation);
* when that would exceed ``budget_eval_share * B``, the final evaluation scores only the first bytes that fit
  in that share (the reported ``valid_bytes`` says how many);
* training stops before a step once ``elapsed + last step + R >= B``; an in-run evaluation that would not fit
  is skipped; the cosine and the warm-up span the training time ``B - R``.

Tolerance: the run ends within ``B`` plus what the estimate misses (measured per-byte cost times the 1.25
margin covers it on a steady machine; the test suite holds a 2 s budget to under 3.5 s of wall time).
"""

from __future__ import annotations

from dataclasses import dataclass

#: margin on the measured evaluation cost
SAFETY = 1.25
#: seconds set aside for writing the learning-curve plot (mostly importing matplotlib)
PLOT_SECONDS = 0.75
#: bytes of the probe evaluation before the first step, and the fewest bytes a capped evaluation scores
PROBE_BYTES = 4096
MIN_EVAL_BYTES = 256
#: evaluations of at most this many bytes measure the fixed cost of one call
SMALL_BYTES = 256


@dataclass
class EvalClock:
    """Measured evaluation cost ``seconds(n) = per_call + per_byte * n``: ``per_call`` from the latest small
    evaluation (at most :data:`SMALL_BYTES`), ``per_byte`` from the latest large one (at least as large as the
    largest so far, or :data:`PROBE_BYTES`)."""

    per_call: float = 0.0
    per_byte: float | None = None
    sample_bytes: int = 0

    def record(self, n_bytes: int, seconds: float) -> None:
        """Fold in one evaluation of ``n_bytes`` that took ``seconds``."""
        if n_bytes <= 0:
            return
        if n_bytes <= SMALL_BYTES:
            self.per_call = seconds
            if self.per_byte is None:
                self.per_byte = seconds / n_bytes
        elif n_bytes >= min(self.sample_bytes, PROBE_BYTES):
            self.per_byte = max(seconds - self.per_call, 0.0) / n_bytes
            self.sample_bytes = max(self.sample_bytes, n_bytes)

    def predict(self, n_bytes: int, calls: int = 1) -> float:
        """Seconds expected for ``calls`` evaluations of ``n_bytes`` in all (with the safety margin); 0 before
        any measurement."""
        if self.per_byte is None or n_bytes <= 0:
            return 0.0
        return SAFETY * (calls * self.per_call + self.per_byte * n_bytes)


@dataclass
class FinalPlan:
    """Bytes the final phase scores and the seconds it is expected to take."""

    valid_bytes: int
    train_bytes: int
    teacher_bytes: int
    seconds: float
    capped: bool = False


def _cap(n: int, scale: float) -> int:
    return n if n == 0 else max(min(n, MIN_EVAL_BYTES), int(n * scale))


def final_plan(clock: EvalClock, valid_bytes: int, train_bytes: int, teacher_bytes: int, fixed_seconds: float,
               cap_seconds: float | None) -> FinalPlan:
    """The final phase's bytes, scaled down uniformly when its predicted time exceeds ``cap_seconds``
    (``None``: never capped); ``fixed_seconds`` is what does not depend on the bytes (checkpoint, plot)."""
    n = valid_bytes + train_bytes + teacher_bytes
    calls = sum(1 for b in (valid_bytes, train_bytes, teacher_bytes) if b)
    seconds = clock.predict(n, calls) + fixed_seconds
    if cap_seconds is None or clock.per_byte is None or seconds <= cap_seconds or n == 0:
        return FinalPlan(valid_bytes, train_bytes, teacher_bytes, seconds)
    room = cap_seconds - fixed_seconds - SAFETY * calls * clock.per_call
    scale = max(0.0, room) / max(SAFETY * clock.per_byte * n, 1e-12)
    v, t, k = _cap(valid_bytes, scale), _cap(train_bytes, scale), _cap(teacher_bytes, scale)
    return FinalPlan(v, t, k, clock.predict(v + t + k, calls) + fixed_seconds, capped=True)


__all__ = ["EvalClock", "FinalPlan", "final_plan"]

"""Learning-rate schedule and run progress (pure functions of the config, the step and the clock)."""

from __future__ import annotations

import math

from .config import TrainConfig


def lr_at(config: TrainConfig, step: int, elapsed: float = 0.0) -> float:
    """Learning rate for optimizer step ``step`` (0-based) after ``elapsed`` seconds of training.

    Linear warm-up ``lr * (step + 1) / warmup_steps`` for ``step < warmup_steps``, then
    ``min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2`` with run progress ``p`` in [0, 1]: the larger of
    ``(step - warmup) / (max_steps - warmup)`` and ``elapsed / budget_seconds`` (whichever are set; with
    neither set the rate stays at ``lr`` after warm-up).
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    p = 0.0
    if config.max_steps is not None:
        p = max(p, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    if config.budget_seconds is not None:
        p = max(p, elapsed / config.budget_seconds)
    p = min(1.0, max(0.0, p))
    lo = config.final_lr
    return lo + (config.lr - lo) * 0.5 * (1.0 + math.cos(math.pi * p))


def run_progress(config: TrainConfig, step: int, elapsed: float = 0.0) -> float:
    """Fraction of the run done, in [0, 1]: the larger of the step and wall-clock fractions that are set."""
    p = 0.0
    if config.max_steps is not None:
        p = max(p, step / max(1, config.max_steps))
    if config.budget_seconds is not None:
        p = max(p, elapsed / config.budget_seconds)
    return min(1.0, max(0.0, p))


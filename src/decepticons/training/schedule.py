"""Learning-rate schedule and run progress (pure functions of the config, the step and the clock)."""

from __future__ import annotations

import math

from .config import TrainConfig


def _span(config: TrainConfig, horizon: float | None) -> float | None:
    """Seconds of training the time-driven schedule spans: ``horizon`` or ``budget_seconds`` (``None``: no
    time budget, or a step / token budget, which makes the schedule follow steps only)."""
    if config.budget_seconds is None or config.step_budget is not None:
        return None
    return config.budget_seconds if horizon is None else max(horizon, 1e-9)


def lr_at(config: TrainConfig, step: int, elapsed: float = 0.0, horizon: float | None = None) -> float:
    """Learning rate for optimizer step ``step`` (0-based) after ``elapsed`` seconds of training.

    Linear warm-up ``lr * (step + 1) / warmup_steps`` for ``step < warmup_steps``, then
    ``min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2`` with run progress ``p`` in [0, 1]:
    ``(step - warmup) / (steps - warmup)`` with a step or token budget (``steps = config.step_budget``; the
    clock is then never read), else ``elapsed / horizon`` with a time budget (with neither the rate stays at
    ``lr`` after warm-up). ``horizon`` is the training time of a time budget
    (default ``budget_seconds``; the trainer passes the budget less the time it keeps for the final
    evaluation).

    With a time budget the warm-up also scales with the run: it ends after ``warmup_steps`` steps or after
    ``warmup_fraction * horizon`` seconds, whichever comes first, i.e. it lasts ``min(warmup_steps,
    warmup_fraction * expected steps)`` for a steady step time (the rate is then
    ``min(lr * max((step + 1) / warmup_steps, elapsed / (warmup_fraction * horizon)), cosine)``, continuous
    at the hand-over). A run with a step or token budget keeps the plain step warm-up.
    """
    span = _span(config, horizon)
    if step < config.warmup_steps:
        ramp = config.lr * (step + 1) / config.warmup_steps
        if span is None or config.warmup_fraction <= 0:
            return ramp
        timed = config.lr * min(1.0, elapsed / (config.warmup_fraction * span))
        return min(max(ramp, timed), _cosine(config, step, elapsed, span))
    return _cosine(config, step, elapsed, span)


def _cosine(config: TrainConfig, step: int, elapsed: float, span: float | None) -> float:
    p = 0.0
    steps = config.step_budget
    if steps is not None:
        p = max(p, (step - config.warmup_steps) / max(1, steps - config.warmup_steps))
    if span is not None:
        p = max(p, elapsed / span)
    p = min(1.0, max(0.0, p))
    lo = config.final_lr
    return lo + (config.lr - lo) * 0.5 * (1.0 + math.cos(math.pi * p))


def run_progress(config: TrainConfig, step: int, elapsed: float = 0.0, horizon: float | None = None) -> float:
    """Fraction of the run done, in [0, 1]: ``step / steps`` with a step or token budget, else the wall-clock
    fraction of a time budget (over ``horizon``, default ``budget_seconds``)."""
    p = 0.0
    steps = config.step_budget
    if steps is not None:
        p = max(p, step / max(1, steps))
    span = _span(config, horizon)
    if span is not None:
        p = max(p, elapsed / span)
    return min(1.0, max(0.0, p))

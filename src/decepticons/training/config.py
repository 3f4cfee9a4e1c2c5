"""Training configuration: everything the trainer needs besides the model and the data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

TRAIN_MODES = ("detached", "carried")


@dataclass
class TrainConfig:
    """Everything the trainer needs besides the model and the data."""

    batch_size: int = 16
    seq_len: int = 256
    lr: float = 3e-3
    #: final learning rate of the cosine (default ``lr / 10``)
    min_lr: float | None = None
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    #: global gradient-norm limit; ``None`` or 0 disables clipping
    grad_clip: float | None = 1.0
    #: stop after this many seconds of wall-clock training (``None``: no limit)
    budget_seconds: float | None = None
    #: stop after this many optimizer steps (``None``: no limit); also the cosine's length
    max_steps: int | None = None
    #: evaluate every this many steps (0: only at the end)
    eval_every: int = 200
    #: held-out bytes per evaluation (0 or ``None``: the whole validation split)
    eval_bytes: int | None = 65536
    #: evaluation chunk length (default: 4096 for stateful modules, else ``seq_len`` / the model context)
    eval_seq_len: int | None = None
    eval_batch_size: int = 16
    #: ``detached`` (each window from zero state) or ``carried`` (state carried, truncated backprop)
    mode: str = "detached"
    #: slow parameters take one step every ``slow_every`` steps (1: every parameter every step)
    slow_every: int = 1
    #: fnmatch patterns naming the slow parameters (default: the module's ``slow_parameters()`` hook)
    slow_params: tuple[str, ...] = ()
    seed: int = 0
    #: ``cpu``, ``cuda``, ``cuda:1``... (default: the predictor's device)
    device: str | None = None
    #: write a metrics line every this many steps
    log_every: int = 10
    #: checkpoint every this many steps (0: off) and/or every this many seconds (``None``: off)
    checkpoint_every: int = 0
    checkpoint_seconds: float | None = 300.0
    keep_checkpoints: int = 2
    #: held-out fraction cut from the end of the training data when no validation data is given
    valid_fraction: float = 0.05
    #: bf16 autocast on CUDA (ignored on CPU)
    amp: bool = True
    #: DDP's ``find_unused_parameters`` (needed when some parameters get no gradient in a step, e.g. routed
    #: experts or adaptive depth); also switched on by a module attribute ``ddp_find_unused_parameters = True``
    ddp_find_unused: bool = False
    #: write ``learning_curve.png`` into the run folder (needs matplotlib)
    plot: bool = True

    def __post_init__(self) -> None:
        self.slow_params = tuple(self.slow_params or ())
        checks = [
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.seq_len >= 1, f"seq_len must be >= 1, got {self.seq_len}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.min_lr is None or 0 <= self.min_lr <= self.lr, f"min_lr must be in [0, lr], got {self.min_lr}"),
            (self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.budget_seconds is None or self.budget_seconds > 0,
             f"budget_seconds must be > 0, got {self.budget_seconds}"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}"),
            (self.mode in TRAIN_MODES, f"mode must be one of {', '.join(TRAIN_MODES)}, got {self.mode!r}"),
            (self.slow_every >= 1, f"slow_every must be >= 1, got {self.slow_every}"),
            (self.eval_every >= 0, f"eval_every must be >= 0, got {self.eval_every}"),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
            (0 <= self.valid_fraction < 1, f"valid_fraction must be in [0, 1), got {self.valid_fraction}"),
            (self.eval_seq_len is None or self.eval_seq_len >= 1,
             f"eval_seq_len must be >= 1, got {self.eval_seq_len}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(msg)

    @property
    def final_lr(self) -> float:
        return self.lr / 10 if self.min_lr is None else self.min_lr

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, refusing unknown keys with the list of known ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["slow_params"] = list(self.slow_params)
        return d


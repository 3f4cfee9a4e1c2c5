"""Training configuration: everything the trainer needs besides the model and the data.

Every field is declared with its allowed range (:func:`decepticons.validation.spec`); a bad value, ``NaN``
or an infinity is an :class:`~decepticons.errors.InputError` naming the field, the value and the range.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import Spec, Validated, fail, spec

TRAIN_MODES = ("detached", "carried")


@dataclass
class TrainConfig(Validated):
    """Everything the trainer needs besides the model and the data."""

    batch_size: int = spec(16, lo=1, hi=1 << 20, doc="windows per optimizer step (all processes together)")
    seq_len: int = spec(256, lo=1, hi=1 << 24, doc="bytes per training window")
    lr: float = spec(3e-3, lo=0.0, lo_open=True, doc="peak learning rate")
    min_lr: float | None = spec(None, lo=0.0, optional=True, doc="final learning rate of the cosine (default lr / 10)")
    warmup_steps: int = spec(50, lo=0, doc="steps of linear warm-up")
    warmup_fraction: float = spec(0.05, lo=0.0, hi=1.0,
                                  doc="with a time budget the warm-up also ends after this fraction of the "
                                      "training time, whichever comes first (0: steps only)")
    weight_decay: float = spec(0.1, lo=0.0, doc="AdamW decoupled weight decay (matrices only)")
    beta1: float = spec(0.9, lo=0.0, hi=1.0, hi_open=True, doc="AdamW first-moment decay")
    beta2: float = spec(0.95, lo=0.0, hi=1.0, hi_open=True, doc="AdamW second-moment decay")
    eps: float = spec(1e-8, lo=0.0, lo_open=True, doc="AdamW denominator epsilon")
    grad_clip: float | None = spec(1.0, lo=0.0, optional=True,
                                   doc="global gradient-norm limit; null or 0 disables clipping")
    budget_seconds: float | None = spec(None, lo=0.0, lo_open=True, optional=True,
                                        doc="wall-clock seconds of the whole run, final evaluation included")
    budget_eval_share: float = spec(0.5, lo=0.0, lo_open=True, hi=1.0,
                                    doc="with a time budget: the most of it the final evaluation may take "
                                        "(it scores fewer bytes when the whole would take longer)")
    max_steps: int | None = spec(None, lo=1, optional=True,
                                 doc="stop after this many optimizer steps; also the cosine's length")
    max_tokens: int | None = spec(None, lo=1, optional=True,
                                  doc="stop after this many training bytes (ceil(max_tokens / (batch_size * "
                                      "seq_len)) steps; with max_steps the smaller of the two)")
    eval_every: int = spec(200, lo=0, doc="evaluate every this many steps (0: only at the end)")
    eval_bytes: int | None = spec(65536, lo=0, optional=True,
                                  doc="held-out bytes per evaluation (0 or null: the whole validation split)")
    mode: str = spec("detached", choices=TRAIN_MODES,
                     doc="detached (each window from zero state) or carried (state carried, truncated backprop)")
    slow_every: int = spec(1, lo=1, doc="slow parameters step every this many steps (1: all every step)")
    slow_params: tuple[str, ...] = spec((), items=Spec(kind="str"),
                                        doc="fnmatch patterns of the slow parameters (default: the module's "
                                            "slow_parameters() hook)")
    seed: int = spec(0, lo=0, hi=2**63 - 1, doc="seed of the data order and the torch RNG")
    device: str | None = spec(None, optional=True, doc="cpu, cuda, cuda:1... (default: the predictor's device)")
    log_every: int = spec(10, lo=1, doc="write a metrics line every this many steps")
    checkpoint_every: int = spec(0, lo=0, doc="checkpoint every this many steps (0: off)")
    checkpoint_seconds: float | None = spec(300.0, lo=0.0, lo_open=True, optional=True,
                                            doc="checkpoint every this many seconds (null: off)")
    keep_checkpoints: int = spec(2, lo=1, doc="newest checkpoints kept")
    valid_fraction: float = spec(0.05, lo=0.0, hi=1.0, hi_open=True,
                                 doc="held-out fraction cut from the end of the training data when no "
                                     "validation data is given")
    amp: bool = spec(True, doc="bf16 autocast on CUDA (ignored on CPU)")
    ddp_find_unused: bool = spec(False, doc="DDP's find_unused_parameters (also switched on by the module's "
                                            "ddp_find_unused_parameters attribute)")
    plot: bool = spec(True, doc="write learning_curve.png into the run folder (needs matplotlib)")
    teacher_weight: float = spec(0.5, lo=0.0, hi=1.0,
                                 doc="with a teacher: loss = (1 - a) * CE(bytes) + a * tau^2 * KL(teacher || student)")
    teacher_temperature: float = spec(1.0, lo=0.0, lo_open=True, hi=100.0,
                                      doc="with a teacher: temperature tau of both distributions in the KL term")

    def check(self) -> None:
        if self.min_lr is not None and self.min_lr > self.lr:
            raise fail("TrainConfig", f"min_lr ({self.min_lr}) must be <= lr ({self.lr})")

    @property
    def step_budget(self) -> int | None:
        """Steps of a step or token budget (the smaller when both are set), else ``None``.

        With a step budget the run is a function of the step count only: the learning-rate schedule, the
        warm-up, the run progress and the evaluation points follow steps, never the clock, so two runs with
        the same seed give the same curve and weights whatever the machine's load (a time budget given as
        well only stops the run early)."""
        steps = [s for s in (self.max_steps, None if self.max_tokens is None
                             else -(-self.max_tokens // (self.batch_size * self.seq_len))) if s is not None]
        return min(steps) if steps else None

    @property
    def final_lr(self) -> float:
        """The cosine's end value: ``min_lr``, or ``lr / 10`` when unset."""
        return self.lr / 10 if self.min_lr is None else self.min_lr

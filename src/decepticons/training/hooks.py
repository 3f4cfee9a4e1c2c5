"""The optional hooks a trainable torch module may provide, stated as runtime-checkable protocols.

The trainer (:mod:`decepticons.training.loop`) asks ``isinstance(module, Hook)`` for each and calls what the
module implements; a module providing none of them trains as a plain ``forward(x) -> logits`` with
``x: LongTensor[B, T]`` and logits ``FloatTensor[B, T, 256]``.

==============================  ==============================================================================
:class:`StatefulModule`         ``init_state(batch) -> state`` and ``forward_with_state(x, state) -> (logits,
                                state)``: carried-state training (``mode="carried"``)
:class:`ExtraLoss`              ``extra_loss() -> Tensor | None``, valid after a forward: added to the loss
:class:`NoWeightDecay`          ``no_weight_decay() -> names``: parameters spared AdamW's weight decay
:class:`SlowParameters`         ``slow_parameters() -> names``: the default slow set of ``slow_every > 1``
:class:`TrainingProgress`       ``set_training_progress(progress)``: run fraction in [0, 1], before each
                                forward
:class:`AfterOptimizerStep`     ``after_optimizer_step()``: called once after every optimizer step (state that
                                follows the step, e.g. a balancing bias or a step counter; a train-mode
                                forward itself has no side effects)
:class:`FindsUnusedParameters`  attribute ``ddp_find_unused_parameters``: DDP must look for parameters without
                                a gradient (routed experts, adaptive depth)
==============================  ==============================================================================

:class:`MetricsSink` is the optional side of the trainer's ``callback``: a callback that also has
``log_metrics(record)`` receives every metrics record (the lines of ``metrics.jsonl``: a training record every
``log_every`` steps, and each held-out evaluation), e.g. :class:`~decepticons.training.tensorboard.TensorBoardLogger`.

:class:`TrainablePredictor` is what the trainer needs of the predictor wrapping the module (a
:class:`~decepticons.training.predictor.TorchPredictor` satisfies it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class StatefulModule(Protocol):
    """A module whose state can be carried from one window to the next."""

    def init_state(self, batch: int) -> Any:
        """The start state of ``batch`` sequences (a tensor or a nested tuple/list/dict of tensors)."""

    def forward_with_state(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """``(B, T)`` ids and a state -> ``(B, T, 256)`` logits and the state after the last byte."""


@runtime_checkable
class ExtraLoss(Protocol):
    def extra_loss(self) -> torch.Tensor | None:
        """Auxiliary loss of the last forward (added to the cross-entropy), or ``None``."""


@runtime_checkable
class NoWeightDecay(Protocol):
    def no_weight_decay(self) -> Iterable[str]:
        """Names of parameters that take no weight decay."""


@runtime_checkable
class SlowParameters(Protocol):
    def slow_parameters(self) -> Iterable[str]:
        """Names of the parameters updated only every ``slow_every`` steps (when no patterns are given)."""


@runtime_checkable
class TrainingProgress(Protocol):
    def set_training_progress(self, progress: float) -> None:
        """Fraction of the run done, in [0, 1]; called before every step's forward (curricula)."""


@runtime_checkable
class AfterOptimizerStep(Protocol):
    def after_optimizer_step(self) -> None:
        """Called once after every optimizer step."""


@runtime_checkable
class FindsUnusedParameters(Protocol):
    #: True when some parameters may get no gradient in a step (DDP's ``find_unused_parameters``)
    ddp_find_unused_parameters: bool


@runtime_checkable
class MetricsSink(Protocol):
    def log_metrics(self, record: dict[str, Any]) -> None:
        """One metrics record (losses in nats as the trainer keeps them; ``valid_bpb`` in bits per byte)."""


@runtime_checkable
class TrainablePredictor(Protocol):
    """The predictor side of a training run: the module, its device, and the predictor contract."""

    module: nn.Module
    device: torch.device

    @property
    def name(self) -> str:
        """The model kind (read only: a class attribute of the predictor)."""

    @property
    def bos_token(self) -> int:
        """The byte fed before the first real byte (read only: a class attribute of the predictor)."""

    #: the trainer's window length when training on detached windows (``None``: carried state); the
    #: trainer sets it and the predictor may score in windows of it
    train_window: int | None
    #: the trainer's mode (``detached`` / ``carried``), set by the trainer
    train_mode: str | None

    def config_dict(self) -> dict[str, Any]: ...

    def save(self, path: Any) -> str: ...

    def score(self, data: Any, trace: bool = ..., progress: bool | None = ...) -> Any: ...

    def iter_log_probs(self, data: Any, chunk_size: int = ...) -> Iterator[Any]: ...


__all__ = ["AfterOptimizerStep", "ExtraLoss", "FindsUnusedParameters", "MetricsSink", "NoWeightDecay",
           "SlowParameters", "StatefulModule", "TrainablePredictor", "TrainingProgress"]

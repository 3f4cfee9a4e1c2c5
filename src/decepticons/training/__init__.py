"""Gradient training of torch predictors: configuration, schedule, data windows, the loop, evaluation,
checkpoints, DDP and learning-curve plots (every module here imports torch).

:class:`TorchPredictor` (:mod:`decepticons.training.predictor`) is the base of every torch model behind the
predictor contract; the usual entry points for training are :func:`train` (or :meth:`TorchPredictor.fit`) and
``decepticons train``.
The optional module hooks the trainer uses are the protocols of :mod:`decepticons.training.hooks`.
"""

from __future__ import annotations

from .checkpoints import latest_checkpoint
from .config import TRAIN_MODES, TrainConfig
from .data import ByteDataset, CarriedWindows, RandomWindows, shift_right_torch, split_train_valid
from .distributed import init_distributed
from .evaluation import evaluate
from .loop import Trainer, TrainResult, train
from .optim import clip_gradients, parameter_groups
from .plots import plot_learning_curves, read_metrics
from .predictor import TorchPredictor
from .schedule import lr_at, run_progress

__all__ = ["TRAIN_MODES", "ByteDataset", "CarriedWindows", "RandomWindows", "TrainConfig", "TrainResult",
           "Trainer", "TorchPredictor", "clip_gradients", "evaluate", "init_distributed", "latest_checkpoint", "lr_at",
           "parameter_groups", "plot_learning_curves", "read_metrics", "run_progress", "shift_right_torch",
           "split_train_valid", "train"]

"""Optional TensorBoard logging of a training run, through the trainer's callback (:class:`.hooks.MetricsSink`).

Scalars written (the step is the optimizer step):

* ``train/loss_bits_per_byte``: the training cross-entropy in bits per byte (every ``log_every`` steps);
* ``train/lr``: the learning rate of that step;
* ``valid/bits_per_byte``: each held-out evaluation, final one included.

Needs ``torch.utils.tensorboard``, i.e. the ``tensorboard`` package (``pip install tensorboard``).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from ..errors import InputError
from ..predictor import LN2

INSTALL_HINT = "--tensorboard needs the tensorboard package (pip install tensorboard)"


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can be imported (the ``tensorboard`` package is installed)."""
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger:
    """A trainer callback writing the run's scalars to a TensorBoard log folder.

    ``writer`` is anything with ``add_scalar(tag, value, step)`` (and optionally ``flush``/``close``); the
    default is a ``torch.utils.tensorboard.SummaryWriter`` on ``log_dir``, refused with an
    :class:`~decepticons.errors.InputError` when tensorboard is not installed.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, writer: Any = None) -> None:
        if writer is None:
            if log_dir is None:
                raise InputError("TensorBoardLogger needs a log folder or a writer")
            if not tensorboard_available():
                raise InputError(INSTALL_HINT)
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # tensorboard present but unusable (a broken or too old install)
                raise InputError(f"{INSTALL_HINT}; importing torch.utils.tensorboard failed: {e}") from None

            writer = SummaryWriter(log_dir=str(log_dir))
        self.writer = writer

    def __call__(self, step: int, record: dict[str, Any]) -> None:
        """Per-step callback: nothing to do (the scalars come through :meth:`log_metrics`)."""

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Write the scalars of one metrics record."""
        step = int(record["step"])
        if record.get("loss") is not None:
            self.writer.add_scalar("train/loss_bits_per_byte", float(record["loss"]) / LN2, step)
        if record.get("lr") is not None:
            self.writer.add_scalar("train/lr", float(record["lr"]), step)
        if record.get("valid_bpb") is not None:
            self.writer.add_scalar("valid/bits_per_byte", float(record["valid_bpb"]), step)

    def close(self) -> None:
        """Flush and close the writer."""
        for name in ("flush", "close"):
            fn = getattr(self.writer, name, None)
            if callable(fn):
                fn()


__all__ = ["INSTALL_HINT", "TensorBoardLogger", "tensorboard_available"]

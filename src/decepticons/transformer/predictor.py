"""``transformer``: the byte transformer behind the predictor contract.

Inputs longer than the window ``W`` (``block_size``, or the training ``seq_len`` when shorter) are scored in
staggered windows (:mod:`decepticons.windows`) with stride ``W // 2``: row ``t`` is read from the window
starting at ``max(0, (W // 2) (t // (W // 2) - 1))``, so it sees between ``W // 2`` and ``W`` bytes of
context, and rows never depend on the input's length; the stream recomputes the one window of its row.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from ..training.predictor import TorchPredictor
from .config import TransformerConfig, state_values
from .model import ByteTransformer


class TransformerPredictor(TorchPredictor):
    """Causal byte transformer; configuration: :class:`~.config.TransformerConfig`."""

    name: ClassVar[str] = "transformer"
    config_cls: ClassVar[type] = TransformerConfig

    @property
    def window(self) -> int:
        """``block_size`` (the longest sequence the module reads), or the training window when shorter."""
        L = self.config.block_size
        return L if self.train_window is None else min(L, self.train_window)

    @property
    def train_defaults(self) -> dict[str, Any]:  # type: ignore[override]
        """Train and evaluate on windows of the block size (the longest sequence the module accepts)."""
        L = self.config.block_size
        return {"lr": 2e-3, "warmup_steps": 100, "seq_len": L}

    @classmethod
    def build_module(cls, config: TransformerConfig) -> nn.Module:
        return ByteTransformer(config)

    @classmethod
    def state_values(cls, config: TransformerConfig) -> int:
        return state_values(config)

"""``transformer``: the byte transformer behind the predictor contract.

``log_probs`` of inputs longer than ``block_size`` uses a sliding window with stride ``block_size // 2``:
row ``t >= block_size`` is read from the window starting at ``stride * (t // stride - 1)``, so it sees
between ``block_size // 2`` and ``block_size`` bytes of context, and rows never depend on the input's
length (the stream, which recomputes the history, agrees with ``log_probs``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..codecs import BytesLike, as_byte_array
from ..predictor import shift_right
from ..training.predictor import TorchPredictor
from .config import TransformerConfig
from .model import ByteTransformer


class TransformerPredictor(TorchPredictor):
    """Causal byte transformer; configuration: :class:`~.config.TransformerConfig`."""

    name: ClassVar[str] = "transformer"
    config_cls: ClassVar[type] = TransformerConfig
    slides_window: ClassVar[bool] = True

    @property
    def context_length(self) -> int:  # type: ignore[override]
        return self.config.block_size

    @property
    def train_defaults(self) -> dict[str, Any]:  # type: ignore[override]
        """Train and evaluate on windows of the block size (the longest sequence the module accepts)."""
        L = self.config.block_size
        return {"lr": 2e-3, "warmup_steps": 100, "seq_len": L, "eval_seq_len": L}

    @classmethod
    def build_module(cls, config: TransformerConfig) -> nn.Module:
        return ByteTransformer(config)

    @torch.no_grad()
    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        L = self.config.block_size
        if len(x) <= L:
            return super().log_probs(x)
        stride = L // 2
        inputs = torch.from_numpy(shift_right(x, self.bos_token))
        T = len(x)
        # row t is read from the window starting at w(t) = max(0, stride * (t // stride - 1)): it depends on
        # t alone (never on T), so every prefix gets the same rows and the stream agrees with log_probs
        windows = [(0, 0, L)] + [(w, w + stride, w + L) for w in range(stride, T - stride, stride)]
        out = np.empty((T, 256))
        self.module.eval()
        full = [win for win in windows if win[0] + L <= T]
        tail = [win for win in windows if win[0] + L > T]
        for i in range(0, len(full), 32):
            group = full[i:i + 32]
            idx = torch.tensor([w for w, _, _ in group])[:, None] + torch.arange(L)[None]
            lp = torch.log_softmax(self.module(inputs[idx].to(self.device)).double(), -1).cpu().numpy()
            for j, (w, lo, hi) in enumerate(group):
                out[lo:hi] = lp[j, lo - w:hi - w]
        for w, lo, _hi in tail:  # a window cut by the end of the input (causal: its rows are unchanged)
            lp = torch.log_softmax(self.module(inputs[None, w:T].to(self.device)).double(), -1).cpu().numpy()
            out[lo:T] = lp[0, lo - w:]
        return out

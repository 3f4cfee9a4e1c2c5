"""The SwiGLU feed-forward ``W2 (silu(W1 x) * W3 x)`` (one dense layer's FFN, and one expert of the MoE)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwiGLU(nn.Module):
    """``(..., D) -> (..., D)`` with hidden width ``hidden``; ``W1`` and ``W3`` are stored as one ``w13``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w13 = nn.Linear(dim, 2 * hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(a) * b)

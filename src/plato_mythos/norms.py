"""RMS normalisation: ``y = x / sqrt(mean(x^2) + eps) * g`` over the last axis (``g`` learned, init 1)."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    """``(..., dim) -> (..., dim)``: ``x / sqrt(mean(x^2) + eps) * g``."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # four plain kernels rather than the fused op: on the CPU the fused op's dispatch overhead dominates
        # single-position decoding
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

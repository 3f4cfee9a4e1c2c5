"""Small building blocks: RMS normalisation, rotary position embedding, SwiGLU feed-forward."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """``y = x / sqrt(mean(x^2) + eps) * g`` over the last axis (``g`` learned, init 1)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # four plain kernels: on the CPU the fused op pays ~25 us of dispatch per call, which dominates
        # single-position decoding
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Rotary(nn.Module):
    """Rotary embedding of ``dim`` channels: pairs ``(x_2i, x_2i+1)`` rotate by ``pos * theta^(-2i/dim)``.

    ``cos_sin(positions)`` returns ``(cos, sin)`` of shape ``(T, dim / 2)``; :func:`apply_rotary` rotates
    any ``(..., T, dim)`` tensor with them.
    """

    def __init__(self, dim: int, max_len: int, theta: float = 10000.0) -> None:
        super().__init__()
        inv = theta ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        ang = torch.arange(max_len, dtype=torch.float64)[:, None] * inv[None]
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)
        self.max_len = max_len

    def cos_sin(self, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        if start + length > self.max_len:
            raise ValueError(f"positions up to {start + length} exceed max_seq_len {self.max_len}")
        return self.cos[start:start + length], self.sin[start:start + length]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of ``x (..., T, dim)`` by the angles behind ``cos, sin (T, dim/2)``."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    c, s = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)


class SwiGLU(nn.Module):
    """Dense feed-forward ``W2 (silu(W1 x) * W3 x)``: ``(..., D) -> (..., D)`` with hidden width ``F``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w13 = nn.Linear(dim, 2 * hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(a) * b)

"""Rotary position embedding: channel pairs ``(x_2i, x_2i+1)`` rotate by ``pos * theta^(-2i/dim)``."""

from __future__ import annotations

import torch
from torch import nn


class Rotary(nn.Module):
    """Angle tables of ``dim`` channels for positions ``0 .. max_len - 1``.

    ``cos_sin(start, length)`` returns ``(cos, sin)`` of shape ``(length, dim / 2)`` for positions
    ``start .. start + length - 1``; :func:`apply_rotary` rotates any ``(..., length, dim)`` tensor with them.
    """

    cos: torch.Tensor  # (max_len, dim / 2) buffer
    sin: torch.Tensor  # (max_len, dim / 2) buffer

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

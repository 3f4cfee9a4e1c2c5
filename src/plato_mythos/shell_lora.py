"""Shells: depth-wise LoRA adapters, one per loop, on the shared recurrent state mix.

For shell ``s`` (loop ``s``; loops past ``max_loop_depth`` reuse the last) and input ``x (..., D)``::

    ShellLoRA(x, s) = (alpha / r) * B_s A_s dropout(x)          A_s: (r, D), B_s: (D, r)

The recurrent block mixes its state with ``W x + ShellLoRA(x, s)`` = ``(W + (alpha / r) B_s A_s) x`` where
the shared ``W = diag(g)`` is a learned per-channel gain, so the adapters merge into one weight per shell for
inference (:meth:`ShellLoRA.merged`, :meth:`RecurrentBlock.merge_shells`). Both factors start
small and random, so different shells already give different outputs at initialisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import PlatoMythosConfig


class ShellLoRA(nn.Module):
    """``max_loop_depth`` low-rank adapters: ``(x (..., D), shell_id) -> (..., D)``."""

    def __init__(self, config: PlatoMythosConfig) -> None:
        super().__init__()
        D, r, n = config.d_model, config.lora_r, config.max_loop_depth
        self.num_shells = n
        self.scaling = config.lora_alpha / r
        self.dropout = config.lora_dropout
        self.A = nn.Parameter(torch.randn(n, r, D) * D ** -0.5)
        self.B = nn.Parameter(torch.randn(n, D, r) * (0.1 / r))

    def _check(self, shell_id: int) -> int:
        s = int(shell_id)
        if not 0 <= s < self.num_shells:
            raise IndexError(f"shell_id {shell_id} outside 0..{self.num_shells - 1} (max_loop_depth)")
        return s

    def forward(self, x: torch.Tensor, shell_id: int) -> torch.Tensor:
        s = self._check(shell_id)
        if self.dropout > 0 and self.training:
            x = F.dropout(x, self.dropout)
        return (x @ self.A[s].T) @ self.B[s].T * self.scaling

    def delta(self, shell_id: int) -> torch.Tensor:
        """The ``(D, D)`` weight update of shell ``shell_id``: ``(alpha / r) B_s A_s``."""
        s = self._check(shell_id)
        return self.B[s] @ self.A[s] * self.scaling

    def merged(self, base_weight: torch.Tensor, shell_id: int) -> torch.Tensor:
        """``W + (alpha / r) B_s A_s`` for a base ``W (D, D)`` (as ``nn.Linear`` stores it)."""
        return base_weight + self.delta(shell_id)

"""The recurrent block and the curriculum that decides how many times it loops while training.

:class:`RecurrentBlock` is one loop with stable input injection. With ``e`` the prelude output
(injected every loop) and ``s = min(i, max_loop_depth - 1)`` the shell of loop ``i``::

    z_0     = (diag(g) + ShellLoRA_s) rmsnorm(h_i) + e        g: per-channel gain (D,), init 1
    z       = layers(z_0)                                   (num_layers pre-norm MLA + rooms-as-experts layers)
    h_i+1   = a * h_i + (1 - a) * z                         a = sigmoid(r) in (0, 1), per channel

``z`` reads ``h_i`` only through a normalised copy, so ``||z||`` is bounded independently of ``||h_i||`` and
the convex update keeps the state within ``max(||h_0||, sup ||z||)`` at any depth. The shared mixing
weight is diagonal; each loop's shell (ShellLoRA) adds a rank-``lora_r`` update to it, so shell ``s`` mixes
with ``W_s = diag(g) + (alpha / r) B_s A_s`` (merged into one ``(D, D)`` weight per shell by
:meth:`RecurrentBlock.merge_shells`). Channel mixing beyond that low-rank part is the job of the layers
that follow, whose projections are dense anyway.

:class:`CurriculumScheduler` implements random-depth training: the depth budget rises linearly from
``start_depth`` to ``max_depth`` over the first ``warmup`` fraction of training; each step runs the full
budget with probability ``full_prob`` and otherwise a loop count drawn uniformly from ``1..budget``;
gradients flow only through the last ``bptt_depth`` loops (the earlier ones run without a graph).
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from .config import PlatoMythosConfig
from .norms import RMSNorm
from .rooms_as_experts import RoomsAsExperts
from .shell_lora import ShellLoRA
from .tiles_as_kv import LatentSlot
from .transformer_layer import MythosLayer


class CurriculumScheduler:
    """Depth budget over training and the loop count of each training step (deterministic per step)."""

    def __init__(self, max_depth: int, start_depth: int = 2, warmup: float = 0.5, full_prob: float = 0.5,
                 bptt_depth: int | None = None, seed: int = 0) -> None:
        if not 1 <= start_depth <= max_depth:
            raise ValueError(f"start_depth must lie in 1..{max_depth}, got {start_depth}")
        self.max_depth, self.start_depth = int(max_depth), int(start_depth)
        self.warmup, self.full_prob = float(warmup), float(full_prob)
        self.bptt_depth = int(bptt_depth or max_depth)
        self.seed = int(seed)

    def budget(self, progress: float) -> int:
        """Loops allowed at training progress ``progress`` in [0, 1]."""
        p = 1.0 if self.warmup <= 0 else min(1.0, max(0.0, progress / self.warmup))
        return int(round(self.start_depth + (self.max_depth - self.start_depth) * p))

    def sample(self, progress: float, step: int) -> tuple[int, int]:
        """``(loops, loops with gradient)`` for training step ``step``."""
        rng = random.Random(self.seed * 1_000_003 + int(step))
        b = self.budget(progress)
        n = b if rng.random() < self.full_prob else rng.randint(1, b)
        return n, min(n, self.bptt_depth)


class RecurrentBlock(nn.Module):
    """One loop (see the module docstring): ``(h (B, t, D), e (B, t, D), loop) -> h'``."""

    def __init__(self, config: PlatoMythosConfig) -> None:
        super().__init__()
        D = config.d_model
        self.max_loop_depth = config.max_loop_depth
        self.in_norm = RMSNorm(D, config.norm_eps)
        self.mix_gain = nn.Parameter(torch.ones(D))
        self.shells = ShellLoRA(config)
        self.layers = nn.ModuleList(MythosLayer(config, moe=True) for _ in range(config.num_layers))
        self.retain = nn.Parameter(torch.zeros(D))
        self._merged: list[torch.Tensor] | None = None

    def shell_of(self, loop: int) -> int:
        """Loops past the trained depth reuse the last shell."""
        return min(int(loop), self.max_loop_depth - 1)

    def mix_weight(self, shell: int) -> torch.Tensor:
        """The merged ``(D, D)`` mixing weight of ``shell``: ``diag(g) + (alpha / r) B_s A_s``."""
        return self.shells.merged(torch.diag(self.mix_gain), shell)

    def merge_shells(self) -> None:
        """Precompute the merged mixing weight of every shell (inference; undone by ``train()``)."""
        with torch.no_grad():
            self._merged = [self.mix_weight(s) for s in range(self.max_loop_depth)]

    def moe_layers(self) -> list[RoomsAsExperts]:
        """The MoE feed-forward of every layer, in order."""
        out = []
        for layer in self.layers:
            ffn = layer.ffn
            assert isinstance(ffn, RoomsAsExperts)  # every recurrent layer is built with moe=True
            out.append(ffn)
        return out

    def aux_losses(self) -> list[torch.Tensor]:
        """The balance losses of the last call (training only): one per layer."""
        return [m.aux_loss for m in self.moe_layers() if m.aux_loss is not None]

    def expert_loads(self) -> list[torch.Tensor]:
        """Routed slots per expert ``(E,)`` of every layer in the last call."""
        loads = []
        for m in self.moe_layers():
            assert m.last_load is not None, "expert_loads() reads the last call: run the block first"
            loads.append(m.last_load)
        return loads

    def train(self, mode: bool = True) -> RecurrentBlock:
        if mode:
            self._merged = None
        return super().train(mode)

    def forward(self, h: torch.Tensor, e: torch.Tensor, loop: int, cos: torch.Tensor, sin: torch.Tensor,
                room_bias: torch.Tensor | None = None, slots: list[LatentSlot] | None = None,
                freeze: tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]] | None = None
                ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        s = self.shell_of(loop)
        u = self.in_norm(h)
        if self._merged is not None and not self.training:
            z = F.linear(u, self._merged[s]) + e
        else:
            z = u * self.mix_gain + self.shells(u, s) + e
        lats = []
        for j, layer in enumerate(self.layers):
            fz = None if freeze is None else (freeze[0], *freeze[1][j])
            z, lat = layer(z, cos, sin, room_bias, slot=None if slots is None else slots[j], freeze=fz)
            lats.append(lat)
        a = torch.sigmoid(self.retain)
        return a * h + (1 - a) * z, lats

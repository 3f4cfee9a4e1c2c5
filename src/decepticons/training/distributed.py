"""Multi-process data parallel training (DDP under ``torchrun``; NCCL on CUDA, gloo otherwise).

Every rank draws the same global batch of ``B`` windows and keeps rows ``[r * B / W, (r + 1) * B / W)``;
DDP averages the gradients, so a step equals the single-process step on the whole batch.
"""

from __future__ import annotations

import os
from typing import Any, cast

import torch
from torch import nn

from ..errors import InputError
from .hooks import ExtraLoss, StatefulModule


def parse_device(name: str | torch.device) -> torch.device:
    """``name`` as a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...), refusing (:class:`InputError`)
    a name torch does not know and a CUDA device this machine does not have."""
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {str(name)!r:.40}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise InputError(f"device {str(name)!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= n:
            raise InputError(f"device {str(name)!r} requested but this machine has {n} CUDA device(s): "
                             f"cuda:0 .. cuda:{n - 1}")
    return dev


def init_distributed(device: str | None = None) -> tuple[int, int]:
    """``(rank, world_size)``; under ``torchrun`` (``WORLD_SIZE > 1``) initialise the process group first
    (NCCL when training on CUDA, gloo otherwise)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if not dist.is_available():
            raise InputError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        use_cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
        dist.init_process_group("nccl" if use_cuda else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def broadcast_from_main(value: int, device: torch.device) -> int:
    """Rank 0's ``value`` on every rank (decisions taken by rank 0's clock)."""
    import torch.distributed as dist

    t = torch.tensor([int(value)], device=device)
    dist.broadcast(t, 0)
    return int(t)


def mean_over_ranks(value: float, device: torch.device, world: int) -> float:
    """The mean of ``value`` over the ``world`` ranks."""
    import torch.distributed as dist

    t = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / world


def barrier() -> None:
    import torch.distributed as dist

    dist.barrier()


class Stepper(nn.Module):
    """The unit DDP wraps: one forward returning ``(logits, new_state, extra_loss)``.

    Routing ``forward_with_state`` and ``extra_loss`` through this module's ``forward`` keeps DDP's
    gradient hooks in charge of every parameter in every train mode.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        # the hooks are looked up once; forward casts ``inner`` to the hook a flag says it has
        self.stateful = isinstance(inner, StatefulModule)
        self.has_extra_loss = isinstance(inner, ExtraLoss)

    def forward(self, x: torch.Tensor, state: Any = None, carried: bool = False
                ) -> tuple[torch.Tensor, Any, torch.Tensor | None]:
        if carried:
            if not self.stateful:
                raise InputError(f"{type(self.inner).__name__} cannot carry a state (no forward_with_state)")
            logits, new_state = cast(StatefulModule, self.inner).forward_with_state(x, state)
        else:
            logits, new_state = self.inner(x), None
        extra = cast(ExtraLoss, self.inner).extra_loss() if self.has_extra_loss else None
        return logits, new_state, extra

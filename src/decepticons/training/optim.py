"""Optimizer setup: AdamW parameter groups, the slow-parameter set, and global gradient-norm clipping.

AdamW with decoupled weight decay ``p <- p - lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)``: matrices are
decayed; norms, biases (``ndim < 2``), embedding tables and the names a module lists through
:class:`~.hooks.NoWeightDecay` are not. Clipping scales every gradient by ``min(1, c / ||g||_2)`` with
``||g||_2`` the global norm over all parameters.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Set
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from .config import TrainConfig
from .hooks import NoWeightDecay, SlowParameters


def parameter_groups(module: nn.Module, weight_decay: float, exclude: Set[str] = frozenset()
                     ) -> list[dict[str, Any]]:
    """AdamW groups: decay for matrices, none for norms, biases (``ndim < 2``) and embedding tables.

    A module may list more names to spare through ``no_weight_decay() -> iterable of parameter names``.
    """
    no_decay: set[str] = set()
    for mname, m in module.named_modules():
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
            no_decay.add(f"{mname}.weight" if mname else "weight")
    if isinstance(module, NoWeightDecay):
        no_decay |= set(module.no_weight_decay())
    decay: list[nn.Parameter] = []
    plain: list[nn.Parameter] = []
    for name, p in module.named_parameters():
        if not p.requires_grad or name in exclude:
            continue
        (plain if p.ndim < 2 or name in no_decay else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0})
    return groups


def slow_parameter_names(module: nn.Module, config: TrainConfig) -> list[str]:
    """Names of the parameters updated only every ``slow_every`` steps."""
    if config.slow_every <= 1:
        return []
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    if config.slow_params:
        chosen = [n for n in names if any(fnmatch.fnmatchcase(n, pat) for pat in config.slow_params)]
        if not chosen:
            raise InputError(f"slow_params {list(config.slow_params)} match no parameter; parameters are: "
                             f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
        return chosen
    if isinstance(module, SlowParameters):
        chosen = [n for n in module.slow_parameters() if n in names]
        if chosen:
            return chosen
    raise InputError("slow_every > 1 needs slow_params (fnmatch patterns of parameter names) or a module with "
                     "a slow_parameters() hook")


def clip_gradients(params: list[torch.Tensor], max_norm: float | None) -> float:
    """Scale gradients so their global L2 norm is at most ``max_norm``; returns the norm before clipping."""
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if max_norm:
        return float(torch.nn.utils.clip_grad_norm_(grads, max_norm))
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in grads])))

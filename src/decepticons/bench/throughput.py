"""Forward throughput of a trained torch model against sequence length (the bench's tokens/s plot).

For each length ``L`` the module predicts one ``(1, L)`` window of held-out bytes, ``repeats`` times, and the
best time gives ``tokens/s = L / seconds``: an O(n) model (the causal bank's scan) keeps its rate as ``L``
grows, attention's O(L^2) shows as a falling rate. Lengths beyond a model's own window (``context_length``)
are left out of its curve.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def forward_throughput(model: Any, data: np.ndarray, seq_lens: list[int], repeats: int = 3) -> list[list[float]]:
    """``[[L, tokens_per_s], ...]`` for the lengths of ``seq_lens`` the model can take; ``[]`` for a model
    without a torch module (numpy models are measured by their score KB/s instead)."""
    module = getattr(model, "module", None)
    if module is None or not hasattr(model, "_inputs"):
        return []
    import torch

    limit = model.context_length
    out: list[list[float]] = []
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for length in seq_lens:
                if (limit is not None and length > limit) or length > len(data):
                    continue
                x = model._inputs(np.ascontiguousarray(data[:length]))
                module(x)  # warm-up (allocations, lazy initialisation)
                best = float("inf")
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    module(x)
                    best = min(best, time.perf_counter() - t0)
                out.append([float(length), length / max(best, 1e-12)])
    finally:
        module.train(was_training)
    return out

"""Forward throughput of a trained torch model against sequence length (the bench's tokens/s plot).

For each length ``L`` the module predicts one ``(1, L)`` window of held-out bytes, ``repeats`` times, and the
best time gives ``tokens/s = L / seconds``: an O(n) model (the causal bank's scan) keeps its rate as ``L``
grows, attention's O(L^2) shows as a falling rate. Lengths beyond what the module can read (its config's
``block_size`` or ``max_seq_len``; no limit for the causal bank's recurrences) are left out of its curve.

MFU (model FLOP utilisation) = the forward pass's counted FLOPs (``torch.utils.flop_counter``: matrix
products and attention; elementwise work such as the scan's recurrences is not counted, so an O(n) bank's MFU
understates its work) / seconds / the device's peak, measured here as the best float32 square-matmul rate
(:func:`matmul_peak`; on a GPU the same measurement, so MFU is relative to what this device reaches, not to a
datasheet figure).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

_PEAKS: dict[str, float] = {}


def matmul_peak(device: Any, n: int = 1024, reps: int = 10) -> float:
    """Best float32 ``n x n`` matmul rate on ``device`` (FLOP/s), measured once per device and kept."""
    import torch

    key = str(device)
    if key not in _PEAKS:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        best = 0.0
        for i in range(reps + 2):
            _sync(device)
            t0 = time.perf_counter()
            a @ b
            _sync(device)
            if i >= 2:
                best = max(best, 2 * n**3 / max(time.perf_counter() - t0, 1e-12))
        _PEAKS[key] = best
    return _PEAKS[key]


def _sync(device: Any) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def forward_flops(module: Any, x: Any) -> int:
    """FLOPs of one forward pass as ``torch.utils.flop_counter`` counts them (0 when it cannot)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            module(x)
        return int(counter.get_total_flops())
    except Exception:  # the counter does not know every op; MFU is then left out
        return 0


def forward_throughput(model: Any, data: np.ndarray, seq_lens: list[int], repeats: int = 3) -> list[list[float]]:
    """``[[L, tokens_per_s, mfu], ...]`` for the lengths of ``seq_lens`` the model can take (``mfu`` 0.0 when
    the FLOPs could not be counted); ``[]`` for a model without a torch module (numpy models are measured by
    their score KB/s instead)."""
    module = getattr(model, "module", None)
    if module is None or not hasattr(model, "_inputs"):
        return []
    import torch

    cfg = getattr(model, "config", None)
    limit = getattr(cfg, "block_size", None) or getattr(cfg, "max_seq_len", None)
    out: list[list[float]] = []
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for length in seq_lens:
                if (limit is not None and length > limit) or length > len(data):
                    continue
                x = model._inputs(np.ascontiguousarray(data[:length]))
                flops = forward_flops(module, x)  # also the warm-up (allocations, lazy initialisation)
                best = float("inf")
                for _ in range(repeats):
                    _sync(x.device)
                    t0 = time.perf_counter()
                    module(x)
                    _sync(x.device)
                    best = min(best, time.perf_counter() - t0)
                seconds = max(best, 1e-12)
                mfu = flops / seconds / matmul_peak(x.device) if flops else 0.0
                out.append([float(length), length / seconds, mfu])
    finally:
        module.train(was_training)
    return out

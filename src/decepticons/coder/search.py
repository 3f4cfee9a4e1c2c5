"""One-dimensional golden-section minimisation, used to pick hyper-parameters on held-out data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_G = (np.sqrt(5.0) - 1.0) / 2.0


def golden_min(f: Callable[[float], float], a: float, b: float, iters: int = 24) -> float:
    """Approximate minimiser of a unimodal ``f`` on ``[a, b]`` (the interval shrinks by 0.618 per step)."""
    c, d = b - _G * (b - a), a + _G * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _G * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _G * (b - a)
            fd = f(d)
    return (a + b) / 2

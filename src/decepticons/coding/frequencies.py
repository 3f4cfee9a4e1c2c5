"""Coding frequencies: a deterministic quantiser from a distribution to integer range-coder frequencies.

::

    f_i = floor(p_i / sum(p) * (2**QUANT_BITS - n)) + 1,   remainder added to the first argmax

so every ``f_i >= 1`` and ``sum f = 2**QUANT_BITS`` exactly (``p: float64[n]``, ``f: int64[n]``). Only IEEE
float64 mul/div/floor and exact integer sums are involved: a pure function of the input bits, so an encoder
and a decoder that see bit-identical distributions code with identical frequencies.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from ..jit import get_kernels, kernel

QUANT_BITS = 24


@kernel
def quantize_probs(p, out):
    """The quantiser of the module docstring into ``out`` (float64[n], integer values); ``out[0] = -1``
    flags an invalid input (negative, NaN, infinite or all-zero)."""
    n = p.shape[0]
    s = 0.0
    for i in range(n):
        if not p[i] >= 0.0:  # negative or NaN
            out[0] = -1.0
            return
        s += p[i]
    if not (s > 0.0 and math.isfinite(s)):
        out[0] = -1.0
        return
    scale = float((1 << QUANT_BITS) - n)
    tot = 0
    best = 0
    for i in range(n):
        f = int(math.floor(p[i] / s * scale)) + 1
        out[i] = f
        tot += f
        if p[i] > p[best]:
            best = i
    out[best] += (1 << QUANT_BITS) - tot


def quantizer(use_numba: bool = True) -> Callable[[np.ndarray, np.ndarray], None]:
    """The quantiser kernel ``(p, out) -> None`` (compiled when numba is available and wanted)."""
    return get_kernels(use_numba).quantize_probs


def quantize_f64(p: np.ndarray, use_numba: bool = True) -> np.ndarray:
    """:func:`quantize_probs` of a 1-D distribution as ``float64[n]``; raises :class:`InputError` when the
    distribution is invalid."""
    if p.ndim != 1 or p.shape[0] < 1:
        raise InputError(f"expected a 1-D distribution, got shape {p.shape}")
    out = np.empty(p.shape[0], dtype=np.float64)
    get_kernels(use_numba).quantize_probs(p, out)
    if out[0] < 0:
        raise InputError("the model produced an invalid distribution (NaN, negative or all zero)")
    return out


def quantize(p: np.ndarray, use_numba: bool = True) -> np.ndarray:
    """``int64[n]`` frequencies (>= 1 each, sum ``2**QUANT_BITS``) from non-negative probabilities ``p``."""
    return quantize_f64(np.ascontiguousarray(p, dtype=np.float64), use_numba).astype(np.int64)

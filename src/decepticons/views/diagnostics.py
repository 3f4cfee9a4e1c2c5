"""Probability diagnostics over ``[T, 256]`` log-probability rows (natural log, as ``log_probs`` returns).

* :func:`entropy` -- ``H_t = -sum_c p_t(c) log2 p_t(c)`` in bits, ``float64[T]``
* :func:`top1_mass` -- ``max_c p_t(c)``, ``float64[T]``
* :func:`agreement` -- how two sources relate, per position and on average: same argmax, total variation
  ``TV_t = 1/2 sum_c |p_t(c) - q_t(c)|`` and Jensen-Shannon divergence in bits
  ``JS_t = 1/2 KL(p_t || m_t) + 1/2 KL(q_t || m_t)`` with ``m_t = (p_t + q_t) / 2``
* :func:`summarize` -- all of the above plus bits per byte when the actual bytes are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError

LN2 = float(np.log(2.0))


def _rows(lp: np.ndarray, name: str = "log_probs") -> np.ndarray:
    a = np.asarray(lp, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != 256:
        raise InputError(f"{name} must have shape [T, 256], got {a.shape}")
    return a


def _xlogy(p: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """``p * lp`` with ``0 * -inf = 0``."""
    return np.where(p > 0, p * np.where(np.isfinite(lp), lp, 0.0), 0.0)


def entropy(lp: np.ndarray) -> np.ndarray:
    """Entropy of each row in bits, ``float64[T]``."""
    a = _rows(lp)
    return -_xlogy(np.exp(a), a).sum(axis=1) / LN2


def top1_mass(lp: np.ndarray) -> np.ndarray:
    """Probability of the most likely byte of each row, ``float64[T]``."""
    return np.exp(_rows(lp).max(axis=1))


def agreement(lp_a: np.ndarray, lp_b: np.ndarray) -> dict[str, Any]:
    """Per-position and mean agreement between two sources over the same positions."""
    a = _rows(lp_a, "lp_a")
    b = _rows(lp_b, "lp_b")
    if a.shape != b.shape:
        raise InputError(f"the two sources cover different positions: {a.shape} vs {b.shape}")
    p, q = np.exp(a), np.exp(b)
    same = np.argmax(a, axis=1) == np.argmax(b, axis=1)
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    m = 0.5 * (p + q)
    lm = np.log(np.maximum(m, 1e-300))
    js = 0.5 * (_xlogy(p, a) - _xlogy(p, lm)).sum(axis=1) + 0.5 * (_xlogy(q, b) - _xlogy(q, lm)).sum(axis=1)
    js = np.maximum(js / LN2, 0.0)
    return {"same_argmax": same, "total_variation": tv, "js_bits": js,
            "argmax_agreement": float(same.mean()) if len(same) else float("nan"),
            "mean_total_variation": float(tv.mean()) if len(tv) else float("nan"),
            "mean_js_bits": float(js.mean()) if len(js) else float("nan")}


def summarize(lp: np.ndarray, data: BytesLike | None = None) -> dict[str, float]:
    """Mean entropy, mean top-1 mass and, with the actual bytes, bits per byte and top-1 accuracy."""
    a = _rows(lp)
    out = {"positions": float(len(a)), "mean_entropy_bits": float(entropy(a).mean()),
           "mean_top1_mass": float(top1_mass(a).mean())}
    if data is not None:
        x = as_byte_array(data)
        if len(x) != len(a):
            raise InputError(f"data has {len(x)} bytes for {len(a)} rows")
        out["bits_per_byte"] = float(-a[np.arange(len(x)), x].mean() / LN2)
        out["top1_accuracy"] = float((np.argmax(a, axis=1) == x).mean())
    return out

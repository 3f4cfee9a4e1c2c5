"""Probability diagnostics over ``[T, 256]`` log-probability rows (natural log, as ``log_probs`` returns).

* :func:`entropy` -- ``H_t = -sum_c p_t(c) log2 p_t(c)`` in bits, ``float64[T]``
* :func:`top1_mass` -- ``max_c p_t(c)``, ``float64[T]``
* :func:`agreement` -- how two sources relate, per position and on average: same argmax, total variation
  ``TV_t = 1/2 sum_c |p_t(c) - q_t(c)|`` and Jensen-Shannon divergence in bits
  ``JS_t = 1/2 KL(p_t || m_t) + 1/2 KL(q_t || m_t)`` with ``m_t = (p_t + q_t) / 2``
* :func:`top_k_mass` -- ``sum of the k largest p_t(c)``, ``float64[T]``
* :func:`top2_margin` -- ``p_t(c_1) - p_t(c_2)`` (largest minus second largest), ``float64[T]``
* :func:`shared_top_k_mass` -- mass two sources put on the bytes both rank in their top k:
  ``1/2 sum_{c in S_t} (p_t(c) + q_t(c))`` with ``S_t = topk(p_t) & topk(q_t)``, ``float64[T]``
* :func:`overlap` -- ``sum_c min(p_t(c), q_t(c)) = 1 - TV_t``, ``float64[T]``
* :func:`probability_diagnostics` -- every per-row figure above for one source, and the two-source ones when
  a second source is given (:class:`ProbabilityDiagnostics`)
* :func:`summarize` -- mean entropy, top-1 mass, bits per byte when the actual bytes are given.

Every figure of row t is a function of row t alone, so a diagnostic of a causal prediction record is causal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
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


def _check_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= 256:
        raise InputError(f"top_k must be an integer in 1..256, got {top_k!r}")
    return int(top_k)


def top_k_mass(lp: np.ndarray, top_k: int = 4) -> np.ndarray:
    """Probability mass of the ``top_k`` most likely bytes of each row, ``float64[T]``."""
    k = _check_k(top_k)
    p = np.exp(_rows(lp))
    if k == 256:
        return p.sum(axis=1)
    return np.partition(p, 256 - k, axis=1)[:, 256 - k:].sum(axis=1)


def top2_margin(lp: np.ndarray) -> np.ndarray:
    """Largest minus second-largest probability of each row, ``float64[T]`` (in [0, 1])."""
    p = np.partition(np.exp(_rows(lp)), 254, axis=1)
    return p[:, 255] - p[:, 254]


def _pair(lp_a: np.ndarray, lp_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = _rows(lp_a, "lp_a")
    b = _rows(lp_b, "lp_b")
    if a.shape != b.shape:
        raise InputError(f"the two sources cover different positions: {a.shape} vs {b.shape}")
    return a, b


def _top_mask(p: np.ndarray, k: int) -> np.ndarray:
    mask = np.zeros(p.shape, dtype=bool)
    if k == 256:
        mask[:] = True
        return mask
    idx = np.argpartition(p, 256 - k, axis=1)[:, 256 - k:]
    np.put_along_axis(mask, idx, True, axis=1)
    return mask


def shared_top_k_mass(lp_a: np.ndarray, lp_b: np.ndarray, top_k: int = 4) -> np.ndarray:
    """``1/2 sum_{c in S_t} (p_t(c) + q_t(c))`` over the bytes both sources rank in their top k, ``float64[T]``."""
    k = _check_k(top_k)
    a, b = _pair(lp_a, lp_b)
    p, q = np.exp(a), np.exp(b)
    shared = _top_mask(p, k) & _top_mask(q, k)
    return 0.5 * (np.where(shared, p, 0.0).sum(axis=1) + np.where(shared, q, 0.0).sum(axis=1))


def overlap(lp_a: np.ndarray, lp_b: np.ndarray) -> np.ndarray:
    """``sum_c min(p_t(c), q_t(c))``: the probability mass two sources share, ``float64[T]`` (1 - TV)."""
    a, b = _pair(lp_a, lp_b)
    return np.minimum(np.exp(a), np.exp(b)).sum(axis=1)


@dataclass(frozen=True)
class ProbabilityDiagnostics:
    """Per-row diagnostics of one prediction record (and, when given, its relation to a second one)."""

    entropy: np.ndarray                       # bits, float64[T]
    peak: np.ndarray                          # top-1 mass, float64[T]
    top_k_mass: np.ndarray                    # float64[T]
    top2_margin: np.ndarray                   # float64[T]
    overlap: np.ndarray | None = None         # sum_c min(p, q), float64[T]
    top1_agreement: np.ndarray | None = None  # 1.0 where both argmaxes agree, float64[T]
    shared_top_k_mass: np.ndarray | None = None

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def probability_diagnostics(lp: np.ndarray, other: np.ndarray | None = None, top_k: int = 4) -> ProbabilityDiagnostics:
    """Entropy, peak, top-k mass and top-2 margin of ``lp`` (``[T, 256]`` log-probabilities); with ``other``
    (same shape) also the overlap, top-1 agreement and shared top-k mass of the two sources."""
    a = _rows(lp)
    k = _check_k(top_k)
    out: dict[str, Any] = {"entropy": entropy(a), "peak": top1_mass(a), "top_k_mass": top_k_mass(a, k),
                           "top2_margin": top2_margin(a)}
    if other is not None:
        a, b = _pair(a, other)
        out.update(overlap=overlap(a, b), shared_top_k_mass=shared_top_k_mass(a, b, k),
                   top1_agreement=(np.argmax(a, axis=1) == np.argmax(b, axis=1)).astype(np.float64))
    return ProbabilityDiagnostics(**out)


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

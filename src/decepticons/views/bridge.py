"""Bridge features: what another predictor's probability record says, as readout or router inputs.

For a record ``log p_t: float64[T, 256]`` (row t predicts byte t from bytes < t) and optionally a second
record ``log q_t`` over the same positions::

    entropy_t     = H(p_t) / 8                       (bits, scaled to [0, 1])
    peak_t        = max_c p_t(c)
    top_k_mass_t  = sum of the k largest p_t(c)
    margin_t      = p_t(c_1) - p_t(c_2)              (largest minus second largest)
    overlap_t     = sum_c min(p_t(c), q_t(c))        (with a second source)
    shared_t      = 1/2 sum_{c in S_t} (p_t(c) + q_t(c)),  S_t = topk(p_t) & topk(q_t)
    agreement_t   = [argmax p_t == argmax q_t]

Each is a function of row t alone, so features of a causal record are causal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .diagnostics import probability_diagnostics


@dataclass(frozen=True)
class BridgeFeatureArrays:
    """Per-row bridge features (``float64[T]`` each; the two-source ones ``None`` without a second source)."""

    entropy: np.ndarray
    peak: np.ndarray
    top_k_mass: np.ndarray
    margin: np.ndarray
    overlap: np.ndarray | None = None
    shared_top_k_mass: np.ndarray | None = None
    agreement: np.ndarray | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {n: getattr(self, n) for n in self.names}

    def matrix(self) -> np.ndarray:
        """``float64[T, len(names)]``, columns in :attr:`names` order."""
        return np.stack([getattr(self, n) for n in self.names], axis=1)


def bridge_feature_arrays(log_probs: np.ndarray, other: np.ndarray | None = None,
                          top_k: int = 4) -> BridgeFeatureArrays:
    """Bridge features of ``log_probs`` (``[T, 256]``, natural log), and of its relation to ``other``."""
    d = probability_diagnostics(log_probs, other, top_k=top_k)
    return BridgeFeatureArrays(entropy=d.entropy / 8.0, peak=d.peak, top_k_mass=d.top_k_mass, margin=d.top2_margin,
                               overlap=d.overlap, shared_top_k_mass=d.shared_top_k_mass, agreement=d.top1_agreement)

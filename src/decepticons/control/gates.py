"""Pathway gates: how much of the fast level reaches the mid level, and of the mid level the slow one.

A hierarchical cascade (see :mod:`decepticons.substrates.hierarchical`) with gated inputs::

    m_t = lambda_m * m_{t-1} + (1 - lambda_m) * g^fm_t * P_m f_t
    s_t = lambda_s * s_{t-1} + (1 - lambda_s) * g^ms_t * P_s m_t

Each gate is read from a scalar controller summary ``q_t`` of the level below (e.g. its drift or its
predictive surprise after byte t), standardised with statistics frozen at fit time and held between refreshes::

    g_t = sigmoid(bias + scale * (q_{r(t)} - mu) / sd)      r(t) = latest refresh step <= t
                                                            (refresh at absolute positions p % stride == 0)

``q_t`` reads bytes <= t only, so ``g_t`` does too, and the gated level after byte t stays causal. A gate is a
scalar per position (``float64[T]``); the cascade stays linear given the gates, so it is still scanned exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec

PATHS = ("fast_to_mid", "mid_to_slow")


@dataclass
class PathwayGateConfig(Validated):
    fast_to_mid_bias: float = spec(0.0, lo=-50.0, hi=50.0)
    fast_to_mid_scale: float = spec(1.5, lo=-50.0, hi=50.0, doc="sign and strength of the summary's effect")
    mid_to_slow_bias: float = spec(0.0, lo=-50.0, hi=50.0)
    mid_to_slow_scale: float = spec(1.5, lo=-50.0, hi=50.0)
    refresh_stride: int = spec(1, lo=1, hi=1 << 20, doc="recompute each gate every n bytes, hold it between")


class PathwayGateController:
    """Sigmoid gates of the fast->mid and mid->slow paths from scalar summaries (see the module docstring)."""

    def __init__(self, config: PathwayGateConfig | None = None) -> None:
        self.config = config or PathwayGateConfig()
        #: per path: (mu, sd) of the summary on the fit data
        self.norm = np.array([[0.0, 1.0], [0.0, 1.0]])

    def _path(self, path: str) -> int:
        if path not in PATHS:
            raise InputError(f"unknown gate path {path!r}; paths: {', '.join(PATHS)}")
        return PATHS.index(path)

    def fit(self, path: str, summary: np.ndarray) -> None:
        """Freeze the standardisation of ``path``'s summary from training values ``float64[T]``."""
        i = self._path(path)
        q = np.asarray(summary, dtype=np.float64)
        if q.ndim != 1 or len(q) < 2 or not np.all(np.isfinite(q)):
            raise InputError(f"gate fit needs a finite float64[T] summary with T >= 2, got shape {q.shape}")
        self.norm[i] = [float(q.mean()), max(float(q.std()), 1e-9)]

    def open(self, path: str, summary: np.ndarray) -> np.ndarray:
        """``sigmoid(bias + scale * (q - mu) / sd)`` per row, without holding."""
        i = self._path(path)
        q = np.asarray(summary, dtype=np.float64)
        c = self.config
        bias, scale = ((c.fast_to_mid_bias, c.fast_to_mid_scale) if i == 0 else (c.mid_to_slow_bias,
                                                                                 c.mid_to_slow_scale))
        z = bias + scale * (q - self.norm[i, 0]) / self.norm[i, 1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))

    def gate(self, path: str, summary: np.ndarray, position: int, held: float) -> tuple[np.ndarray, float]:
        """Gates ``float64[T]`` for rows at absolute positions ``position .. position + T - 1``; ``held`` is the
        gate value in force before row 0 (used until the first refresh). Returns the gates and the value in
        force after the last row."""
        q = np.asarray(summary, dtype=np.float64)
        if q.ndim != 1 or not np.all(np.isfinite(q)):
            raise InputError(f"gate summary must be a finite float64[T] vector, got shape {q.shape}")
        g = self.open(path, q)
        k = self.config.refresh_stride
        if k == 1 or len(q) == 0:
            return g, float(g[-1]) if len(g) else held
        pos = position + np.arange(len(q))
        idx = np.where(pos % k == 0, np.arange(len(q)), -1)
        last = np.maximum.accumulate(idx)
        out = np.where(last >= 0, g[np.maximum(last, 0)], held)
        return out, float(out[-1])

    def reference_gate(self, path: str, summary: np.ndarray, position: int, held: float) -> tuple[np.ndarray, float]:
        """Loop twin of :meth:`gate` (for the parity tests)."""
        q = np.asarray(summary, dtype=np.float64)
        out = np.empty(len(q))
        for t in range(len(q)):
            if (position + t) % self.config.refresh_stride == 0:
                held = float(self.open(path, q[t:t + 1])[0])
            out[t] = held
        return out, held

    def params(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.norm": self.norm}

    def load_params(self, tensors: dict[str, np.ndarray], prefix: str) -> None:
        norm = tensors[f"{prefix}.norm"]
        if norm.shape != (2, 2):
            raise ValueError(f"{prefix}.norm has shape {norm.shape}, expected (2, 2)")
        self.norm = np.asarray(norm, dtype=np.float64)

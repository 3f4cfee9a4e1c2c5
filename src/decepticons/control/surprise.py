"""Predictive surprise: predict the next latent, measure how wrong the prediction was.

For a source record ``u: float64[T, ds]`` and a target record ``z: float64[T, dt]`` (row t = after byte t)::

    z_hat_t = [u_{t-1}, 1] W                 W: float64[ds + 1, dt]   (closed-form ridge fit)
    r_t     = (z_t - z_hat_t) / sigma         sigma: float64[dt], residual scale on the fit data
    s_t     = 1/2 * mean_j r_t[j]^2           surprise (Gaussian negative log-likelihood per dimension, nats,
                                              up to a constant)

With ``u = z`` it predicts the next latent from the current one; with ``u`` a slower level and ``z`` a faster
one it measures how well the slow level anticipates the fast one (cross-level surprise). ``W`` and ``sigma``
are fitted once on training records and then frozen, so row t of every output reads ``u_{t-1}`` and ``z_t``
only: a consumer predicting byte t+1 may read row t. The exposed features are
``[s_t, log(1 + s_t)]`` and, optionally, the standardised residual ``r_t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec
from .summary import state_matrix


@dataclass
class SurpriseConfig(Validated):
    ridge: float = spec(1e-3, lo=0.0, hi=1e6, doc="ridge strength, relative to each input's second moment")
    sigma_floor: float = spec(1e-6, lo=0.0, hi=1e6, lo_open=True, doc="smallest residual scale")


@dataclass(frozen=True)
class SurpriseRecord:
    """``predicted`` and ``residual`` (standardised): ``float64[T, dt]``; ``surprise``: ``float64[T]``."""

    predicted: np.ndarray
    residual: np.ndarray
    surprise: np.ndarray

    def features(self) -> np.ndarray:
        """``float64[T, 2]``: ``[s, log(1 + s)]``."""
        return np.stack([self.surprise, np.log1p(self.surprise)], axis=1)


class PredictiveSurpriseController:
    """Linear next-latent predictor with frozen, closed-form weights (see the module docstring)."""

    def __init__(self, source_dim: int, target_dim: int, config: SurpriseConfig | None = None) -> None:
        for name, v in (("source_dim", source_dim), ("target_dim", target_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        self.source_dim, self.target_dim = int(source_dim), int(target_dim)
        self.config = config or SurpriseConfig()
        self.W: np.ndarray | None = None
        self.sigma: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.W is not None

    def _inputs(self, source_prev: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = state_matrix(source_prev, self.source_dim, "source_prev")
        z = state_matrix(target, self.target_dim, "target")
        if len(u) != len(z):
            raise InputError(f"source_prev has {len(u)} rows, target {len(z)}")
        return u, z

    def fit(self, source_prev: np.ndarray, target: np.ndarray) -> PredictiveSurpriseController:
        """Fit ``W`` and ``sigma`` on aligned rows: ``source_prev[t] = u_{t-1}``, ``target[t] = z_t``."""
        u, z = self._inputs(source_prev, target)
        if len(u) < 2:
            raise InputError(f"fitting a latent predictor needs at least 2 rows, got {len(u)}")
        U = np.concatenate([u, np.ones((len(u), 1))], axis=1)
        A = U.T @ U / len(U)
        B = U.T @ z / len(U)
        d = np.diag(A).copy()
        reg = self.config.ridge * d
        reg[-1] = 0.0  # the bias is not penalised
        self.W = np.linalg.solve(A + np.diag(reg) + 1e-12 * np.eye(len(A)), B)
        res = z - U @ self.W
        self.sigma = np.maximum(np.sqrt(np.mean(res * res, axis=0)), self.config.sigma_floor)
        return self

    def observe(self, source_prev: np.ndarray, target: np.ndarray) -> SurpriseRecord:
        """Prediction, standardised residual and surprise of each row (see the module docstring)."""
        if self.W is None or self.sigma is None:
            raise InputError("this PredictiveSurpriseController has not been fitted")
        u, z = self._inputs(source_prev, target)
        pred = u @ self.W[:-1] + self.W[-1]
        r = (z - pred) / self.sigma
        return SurpriseRecord(pred, r, 0.5 * np.mean(r * r, axis=1) if len(r) else np.zeros(0))

    def params(self, prefix: str) -> dict[str, np.ndarray]:
        if self.W is None or self.sigma is None:
            return {}
        return {f"{prefix}.W": self.W, f"{prefix}.sigma": self.sigma}

    def load_params(self, tensors: dict[str, np.ndarray], prefix: str) -> None:
        W, sigma = tensors[f"{prefix}.W"], tensors[f"{prefix}.sigma"]
        if W.shape != (self.source_dim + 1, self.target_dim) or sigma.shape != (self.target_dim,):
            raise ValueError(f"{prefix}: predictor shapes {W.shape}, {sigma.shape} do not fit "
                             f"{self.source_dim} -> {self.target_dim}")
        self.W, self.sigma = np.asarray(W, np.float64), np.asarray(sigma, np.float64)

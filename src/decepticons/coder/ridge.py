"""Ridge readout from sufficient statistics, with a calibrated softmax on top.

Statistics accumulated in chunks (memory independent of corpus length; additive across shards)::

    A = sum_t f_t f_t^T      float64[d, d]        (f_t = [features_t, 1])
    B = sum_t f_t e_{y_t}^T  float64[d, 256]      (e_y one-hot of the next byte)

Solution for a relative ridge strength ``lam`` on the mean statistics (``A``, ``B`` divided by the count), the
penalty of each column scaled by its second moment (bias column included)::

    W(lam) = (A + lam * diag(A))^{-1} B      scores s_t = f_t W        float64[T, 256]

Ridge scores approximate conditional probabilities but are not a distribution (negative, unnormalised), and
a softmax of them caps every probability near 1/256 * e^(tau * max s). The readout is calibrated with a
power law instead: ``p_t(y) proportional to (max(s_t(y), 0) + eps)^tau``, i.e. a softmax of
``tau * log(max(s, 0) + eps)``, which can express both sharp and flat distributions. ``lam``, ``eps`` and
``tau`` are chosen to minimise held-out bits per byte; one eigendecomposition of ``A`` serves every ``lam``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..predictor import LN2, log_softmax
from .search import golden_min


@dataclass
class RidgeStats:
    """Additive sufficient statistics ``A``, ``B`` and the event count ``n``."""

    A: np.ndarray
    B: np.ndarray
    n: int = 0

    @staticmethod
    def zeros(dim: int, vocab: int = 256) -> RidgeStats:
        return RidgeStats(np.zeros((dim + 1, dim + 1)), np.zeros((dim + 1, vocab)), 0)

    def add(self, features: np.ndarray, targets: np.ndarray) -> None:
        """Accumulate ``features: float64[T, d]`` predicting ``targets: uint8[T]``."""
        F = with_bias(features)
        self.A += F.T @ F
        onehot = np.zeros((len(targets), self.B.shape[1]))
        onehot[np.arange(len(targets)), targets] = 1.0
        self.B += F.T @ onehot
        self.n += len(targets)

    def __add__(self, other: RidgeStats) -> RidgeStats:
        return RidgeStats(self.A + other.A, self.B + other.B, self.n + other.n)


def with_bias(features: np.ndarray) -> np.ndarray:
    return np.concatenate([features, np.ones((len(features), 1))], axis=1)


class RidgeSolver:
    """Solves ``W(lam)`` for many ``lam`` from one eigendecomposition of the (scaled) statistics."""

    def __init__(self, stats: RidgeStats) -> None:
        n = max(stats.n, 1)
        A = stats.A / n
        self.B = stats.B / n
        # standardise: the penalty lam * I on scaled columns is lam * diag(A) on the raw ones
        self.scale = np.sqrt(np.maximum(np.diag(A), 1e-12))
        As = A / np.outer(self.scale, self.scale)
        self.evals, self.evecs = np.linalg.eigh(As)
        self.Bs = self.B / self.scale[:, None]
        self._proj = self.evecs.T @ self.Bs

    def solve(self, lam: float) -> np.ndarray:
        """``W[d+1, 256]`` for relative ridge strength ``lam`` (penalty ``lam * I`` on standardised features)."""
        W = self.evecs @ (self._proj / (self.evals + lam)[:, None])
        return W / self.scale[:, None]


@dataclass
class RidgeReadout:
    """Calibrated ridge readout: ``p = softmax(tau * [f, 1] W)``."""

    W: np.ndarray       # float64[d + 1, 256]
    tau: float = 1.0
    lam: float = 1.0
    eps: float = 1e-3

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.W[:-1] + self.W[-1]

    def log_probs(self, features: np.ndarray) -> np.ndarray:
        """``float64[T, 256]`` calibrated log-probabilities."""
        return log_softmax(self.tau * calibrated_logits(self.scores(features), self.eps))

    def target_log_probs(self, features: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.log_probs(features)[np.arange(len(y)), y]

    @staticmethod
    def from_tensors(W: np.ndarray, tau_lam_eps: np.ndarray, features: int) -> RidgeReadout:
        """A saved readout, refusing (``ValueError``) a ``W`` that is not ``float[features + 1, 256]`` or a
        ``[tau, lam, eps]`` that is not three finite numbers with ``tau > 0``, ``lam >= 0``, ``eps > 0``
        (``eps = 0`` would give bytes probability 0)."""
        W = np.asarray(W)
        if W.shape != (features + 1, 256) or W.dtype.kind != "f":
            raise ValueError(f"readout shape {W.shape} ({W.dtype}) does not fit the configured substrate and "
                             f"view ({features + 1}, 256)")
        t = np.asarray(tau_lam_eps, dtype=np.float64)
        if t.shape != (3,) or not np.all(np.isfinite(t)) or not (t[0] > 0 and t[1] >= 0 and t[2] > 0):
            raise ValueError(f"readout [tau, lam, eps] = {t.tolist()!r:.80} must be 3 finite numbers with "
                             "tau > 0, lam >= 0 and eps > 0")
        return RidgeReadout(np.asarray(W, dtype=np.float64), float(t[0]), float(t[1]), float(t[2]))


def calibrated_logits(scores: np.ndarray, eps: float) -> np.ndarray:
    """``log(max(s, 0) + eps)``: the log-domain of the power-law calibration."""
    return np.log(np.maximum(scores, 0.0) + eps)


def fit_temperature(scores: np.ndarray, y: np.ndarray, lo: float = 0.1, hi: float = 400.0,
                    iters: int = 40) -> tuple[float, float]:
    """``tau`` minimising the cross-entropy of ``softmax(tau * scores)`` (golden section on log tau).

    Returns ``(tau, bits_per_byte)``.
    """
    idx = np.arange(len(y))

    def bits(log_tau: float) -> float:
        return float(-log_softmax(np.exp(log_tau) * scores)[idx, y].mean() / LN2)

    x = golden_min(bits, np.log(lo), np.log(hi), iters)
    return float(np.exp(x)), bits(x)


def fit_readout(stats: RidgeStats, features: np.ndarray, y: np.ndarray,
                lams: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
                epsilons: tuple[float, ...] = (1e-4, 1e-3, 1e-2),
                max_rows: int = 16384) -> tuple[RidgeReadout, list[dict[str, float]]]:
    """Choose ``lam``, ``eps`` and ``tau`` on held-out ``(features, y)`` (at most ``max_rows`` spread rows).

    Returns the readout and the selection curve.
    """
    if len(y) > max_rows:
        idx = np.linspace(0, len(y) - 1, max_rows).astype(int)
        features, y = features[idx], y[idx]
    solver = RidgeSolver(stats)
    best: RidgeReadout | None = None
    best_bits = np.inf
    curve = []
    for lam in lams:
        W = solver.solve(lam)
        s = features @ W[:-1] + W[-1]
        for eps in epsilons:
            tau, bits = fit_temperature(calibrated_logits(s, eps), y, lo=0.05, hi=20.0, iters=24)
            curve.append({"lambda": lam, "eps": eps, "tau": tau, "bits_per_byte": bits})
            if bits < best_bits:
                best, best_bits = RidgeReadout(W, tau, lam, eps), bits
    assert best is not None
    return best, curve

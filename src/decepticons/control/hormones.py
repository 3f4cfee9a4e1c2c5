"""Hormone modulation: slow global side signals that scale gains.

Two hormones per position t (after byte t), read from the past only::

    eta_t[0] = (r_t - mu) / sd      r_t = lambda r_{t-1} + (1 - lambda) s_t   running surprise, half-life h
    eta_t[1] = min(1, log(1 + p_t) / log(1 + H))                               document position, p_t = t + 1
                                                                               bytes seen, horizon H

and ``G`` gains, one per feature group ``g`` (e.g. the bands of a decay bank, fast to slow)::

    gamma_t[g] = 2 * sigmoid(scale * (a_g * eta_t[0] + c_g * eta_t[1]))      in (0, 2), 1 when eta = 0
    a_g = 1 - 2 g / (G - 1),  c_g = -a_g                                     (a ramp across the groups)

so surprise raises the gain of the fast groups and lowers that of the slow ones, and a long document does the
opposite. A consumer multiplies group g of its features by ``gamma_t[g]``: a linear readout of
``[h_t, gamma_t * h_t]`` then has weights that depend on the running surprise and the position. ``mu`` and
``sd`` are frozen at fit time. ``float64[T, 2]`` hormones, ``float64[T, G]`` gains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec
from .summary import running


@dataclass
class HormoneConfig(Validated):
    surprise_half_life: float = spec(256.0, lo=0.0, hi=1e9, lo_open=True, doc="half-life h of the running surprise")
    position_horizon: float = spec(4096.0, lo=1.0, hi=1e12, doc="bytes H after which the position hormone is 1")
    scale: float = spec(1.0, lo=0.0, hi=50.0, doc="strength of the hormones on the gains")


class HormoneModulator:
    """Running-surprise and position hormones, and gains over ``groups`` feature groups."""

    def __init__(self, groups: int, config: HormoneConfig | None = None) -> None:
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise InputError(f"groups must be a positive integer, got {groups!r}")
        self.groups = int(groups)
        self.config = config or HormoneConfig()
        ramp = 1.0 - 2.0 * np.arange(self.groups) / max(self.groups - 1, 1) if self.groups > 1 else np.ones(1)
        self.mix = np.stack([ramp, -ramp], axis=1)  # [G, 2]
        self.norm = np.array([0.0, 1.0])

    def fit(self, surprise: np.ndarray) -> None:
        """Freeze the standardisation of the running surprise from a training record ``float64[T]``."""
        r = running(self._check(surprise), self.config.surprise_half_life)
        if len(r) < 2:
            raise InputError("hormone fit needs at least 2 surprise values")
        self.norm = np.array([float(r.mean()), max(float(r.std()), 1e-9)])

    @staticmethod
    def _check(s: np.ndarray) -> np.ndarray:
        a = np.asarray(s, dtype=np.float64)
        if a.ndim != 1 or not np.all(np.isfinite(a)):
            raise InputError(f"surprise must be a finite float64[T] vector, got shape {a.shape}")
        return a

    def hormones(self, surprise: np.ndarray, position: int, running_start: float) -> tuple[np.ndarray, float]:
        """``eta: float64[T, 2]`` for rows at absolute positions ``position ..`` and the running surprise after
        the last row (``running_start``: its value before row 0)."""
        s = self._check(surprise)
        r = running(s, self.config.surprise_half_life, running_start)
        p = position + 1.0 + np.arange(len(s))
        pos = np.minimum(1.0, np.log1p(p) / np.log1p(self.config.position_horizon))
        eta = np.stack([(r - self.norm[0]) / self.norm[1], pos], axis=1)
        return eta, float(r[-1]) if len(r) else running_start

    def gains(self, eta: np.ndarray) -> np.ndarray:
        """``gamma: float64[T, G] = 2 sigmoid(scale * eta @ mix^T)``."""
        e = np.asarray(eta, dtype=np.float64)
        if e.ndim != 2 or e.shape[1] != 2:
            raise InputError(f"eta must have shape [T, 2], got {e.shape}")
        z = self.config.scale * (e @ self.mix.T)
        return 2.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))

    def params(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.norm": self.norm}

    def load_params(self, tensors: dict[str, np.ndarray], prefix: str) -> None:
        norm = tensors[f"{prefix}.norm"]
        if norm.shape != (2,):
            raise ValueError(f"{prefix}.norm has shape {norm.shape}, expected (2,)")
        self.norm = np.asarray(norm, dtype=np.float64)

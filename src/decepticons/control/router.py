"""Summary routing: causal selection or soft weighting among R routes (substrates, views or experts) from
their controller summaries.

Each route r has a summary ``S_r: float64[T, k]`` with the same k columns (row t computed from the past only,
e.g. its running surprise on the bytes before t and the entropy of its prediction for byte t)::

    l_t[r] = theta . S_r[t] + b_r                   logits, theta: float64[k], b: float64[R]
    soft:    w_t = softmax(l_t / tau)               weights float64[T, R]
    select:  w_t = onehot(argmax_r l_t[r])          (ties go to the lowest index)
    combined prediction: p_t(c) = sum_r w_t[r] p_{r,t}(c)

A row's weights read that row of the summaries only, so a combination of causal predictions is causal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec
from .summary import ControllerSummary


@dataclass
class RouterConfig(Validated):
    mode: str = spec("soft", choices=("soft", "select"), doc="soft weighting or hard selection")
    temperature: float = spec(1.0, lo=0.0, hi=1e6, lo_open=True, doc="tau of the softmax")


@dataclass(frozen=True)
class RoutingDecision:
    """``logits`` and ``weights``: ``float64[T, R]``; ``selected: int64[T]`` (argmax route)."""

    logits: np.ndarray
    weights: np.ndarray
    selected: np.ndarray


class SummaryRouter:
    """Weights among routes from their summaries (see the module docstring)."""

    def __init__(self, theta: Sequence[float] | np.ndarray, biases: Sequence[float] | np.ndarray | None = None,
                 config: RouterConfig | None = None, names: Sequence[str] | None = None) -> None:
        self.theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        if self.theta.size < 1 or not np.all(np.isfinite(self.theta)):
            raise InputError("theta must hold at least one finite weight")
        self.biases = None if biases is None else np.asarray(biases, dtype=np.float64).reshape(-1)
        self.config = config or RouterConfig()
        self.names = None if names is None else tuple(names)

    def logits(self, summaries: Sequence[ControllerSummary]) -> np.ndarray:
        if not summaries:
            raise InputError("routing needs at least one route")
        k = self.theta.size
        T = len(summaries[0])
        for i, s in enumerate(summaries):
            if not isinstance(s, ControllerSummary):
                raise InputError(f"route {i}: expected a ControllerSummary, got {type(s).__name__}")
            if s.dim != k or len(s) != T:
                raise InputError(f"route {i}: summary of shape {s.values.shape}, expected ({T}, {k})")
            if self.names is not None and s.names != self.names:
                raise InputError(f"route {i}: summary columns {s.names}, expected {self.names}")
        b = np.zeros(len(summaries)) if self.biases is None else self.biases
        if b.shape != (len(summaries),):
            raise InputError(f"{len(summaries)} routes but {b.size} biases")
        return np.stack([s.values @ self.theta for s in summaries], axis=1) + b

    def route(self, summaries: Sequence[ControllerSummary]) -> RoutingDecision:
        lg = self.logits(summaries)
        sel = np.argmax(lg, axis=1) if lg.size else np.zeros(0, np.int64)
        if self.config.mode == "select":
            w = np.zeros_like(lg)
            w[np.arange(len(lg)), sel] = 1.0
        else:
            z = lg / self.config.temperature
            z = z - z.max(axis=1, keepdims=True) if len(z) else z
            e = np.exp(z)
            w = e / e.sum(axis=1, keepdims=True)
        return RoutingDecision(lg, w, sel.astype(np.int64))

    @staticmethod
    def combine(weights: np.ndarray, log_probs: Sequence[np.ndarray]) -> np.ndarray:
        """``log sum_r w[:, r] exp(log_probs[r])``: ``float64[T, 256]`` from R records ``[T, 256]``."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != len(log_probs):
            raise InputError(f"weights must be [T, {len(log_probs)}], got {w.shape}")
        lp = np.stack([np.asarray(a, dtype=np.float64) for a in log_probs], axis=0)  # [R, T, 256]
        if lp.shape[1:] != (len(w), 256):
            raise InputError(f"records must be [{len(w)}, 256], got {lp.shape[1:]}")
        with np.errstate(divide="ignore"):
            lw = np.log(w).T[:, :, None]  # [R, T, 1]
        return np.logaddexp.reduce(lp + lw, axis=0)

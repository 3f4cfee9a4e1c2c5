"""Learned segmentation: an online boundary probability with a target patch rate and min/max patch lengths.

Input: a surprise signal ``s: float64[T]`` (``s_t`` measured once byte t is seen, e.g. a
:class:`~decepticons.control.surprise.PredictiveSurpriseController` record). After each byte t the segmenter
decides whether the current patch ends there (the next byte starts a new one)::

    s_t       = round(min(s_t, 64) * 2^12) / 2^12            (quantised: see below)
    sbar_t    = mu * sbar_{t-1} + (1 - mu) * s_t             running mean surprise
    k_t       = bin of (s_t + e) / (sbar_t + e)              8 bins, edges 1/4, 1/2, 2^-1/2, 1, 2^1/2, 2, 4
    j_t       = bytes in the current patch, byte t included
    z_t       = a + u[k_t] + v[k_{t-1}] + w * j_t / L*       log-odds that byte t+1 is surprising, L* = target
    pi_t      = sigmoid(z_t - theta_t)                       boundary probability
    b_t       = 1 if j_t >= L_max;  0 if j_t < L_min;  else [z_t > theta_t]
    learning, once s_{t+1} is known (step t+1): the label of z_t is y_t = [s_{t+1} > sbar_t] (a boundary
    belongs before a surprising byte); with g = sigmoid(z_t) - y_t (online logistic regression)
    a -= eta g,  u[k_t] -= eta (g + l2 u[k_t]),  v[k_{t-1}] -= eta (g + l2 v[k_{t-1}]),  w -= eta (g j_t / L* + l2 w)
    rate control: theta <- theta + eta_rate * (b_t - 1 / L*)  (the long-run boundary rate tracks 1 / L*)

The label model learns one-hot bins of the current and previous relative surprise (so a moderate "cue"
surprise and a large one can call for opposite decisions); the threshold ``theta``, not part of the learned
log-odds, sets how many of the most promising positions become boundaries. Everything at step t reads ``s_<=t`` only, so
decisions are causal. The state (weights, bias, running surprise, current patch length, last features) is a
flat ``float64[STATE_SIZE]`` vector carried across chunks. The update is a scalar loop (one pass, a few dozen
float operations per byte). Surprise is quantised to ``2^-12`` before use so that a batched pass and a
byte-by-byte pass, whose surprise values differ by float rounding (~1e-16), take the same discrete decisions.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, fail, spec

#: flat state layout: u[0:8], v[8:16], w, a, theta, sbar, k_prev, k_prev2, j_prev, q_prev, length, has_prev, seen
BINS = 8
STATE_SIZE = 2 * BINS + 11
_QUANT = 4096.0
_EDGES = (0.25, 0.5, 2 ** -0.5, 1.0, 2 ** 0.5, 2.0, 4.0)
_EPS = 1e-3


@dataclass
class SegmenterConfig(Validated):
    target_patch: float = spec(5.0, lo=1.0, hi=256.0, doc="target mean patch length L* (bytes)")
    min_patch: int = spec(1, lo=1, hi=256, doc="shortest patch")
    max_patch: int = spec(12, lo=1, hi=256, doc="longest patch")
    learning_rate: float = spec(0.05, lo=0.0, hi=10.0, doc="eta of the boundary weights")
    rate_learning_rate: float = spec(0.02, lo=0.0, hi=10.0, doc="eta_rate of the rate controller (threshold)")
    l2: float = spec(1e-4, lo=0.0, hi=1.0)
    surprise_half_life: float = spec(32.0, lo=0.0, hi=1e9, lo_open=True, doc="half-life of sbar (bytes)")
    learn: bool = spec(True, doc="learn the boundary weights (off: the rate controller alone places boundaries)")

    def check(self) -> None:
        if self.max_patch < self.min_patch:
            raise fail("SegmenterConfig", f"max_patch ({self.max_patch}) must be >= min_patch ({self.min_patch})")
        if not self.min_patch <= self.target_patch <= self.max_patch:
            raise fail("SegmenterConfig", f"target_patch ({self.target_patch}) must lie in "
                                          f"[min_patch, max_patch] = [{self.min_patch}, {self.max_patch}]")


@dataclass(frozen=True)
class SegmentRecord:
    """``boundary: bool[T]`` (patch ends after byte t), ``probability: float64[T]`` (pi_t),
    ``length: int64[T]`` (j_t, the 1-based position of byte t in its patch)."""

    boundary: np.ndarray
    probability: np.ndarray
    length: np.ndarray


def quantise(s: np.ndarray) -> np.ndarray:
    """``round(clip(s, 0, 64) * 2^12) / 2^12``."""
    return np.round(np.clip(np.asarray(s, dtype=np.float64), 0.0, 64.0) * _QUANT) / _QUANT


class LearnedSegmenter:
    """Online boundary model (see the module docstring)."""

    def __init__(self, config: SegmenterConfig | None = None) -> None:
        self.config = config or SegmenterConfig()

    def init_state(self) -> np.ndarray:
        return np.zeros(STATE_SIZE)

    def segment(self, surprise: np.ndarray, state: np.ndarray) -> tuple[SegmentRecord, np.ndarray]:
        """Decisions for every byte of a surprise record, and the state after the last one."""
        s_arr = np.asarray(surprise, dtype=np.float64)
        if s_arr.ndim != 1 or not np.all(np.isfinite(s_arr)):
            raise InputError(f"surprise must be a finite float64[T] vector, got shape {s_arr.shape}")
        st = np.asarray(state, dtype=np.float64)
        if st.shape != (STATE_SIZE,):
            raise InputError(f"segmenter state must have shape ({STATE_SIZE},), got {st.shape}")
        c = self.config
        mu = 2.0 ** (-1.0 / c.surprise_half_life)
        lr = c.learning_rate if c.learn else 0.0
        lr_rate, l2, rate = c.rate_learning_rate, c.l2, 1.0 / c.target_patch
        inv_target, lmin, lmax = 1.0 / c.target_patch, c.min_patch, c.max_patch
        vals = st.tolist()
        u, v = vals[:BINS], vals[BINS:2 * BINS]
        w, a, theta, sbar, kp, kpp, jp, qp, length, has_prev, seen = vals[2 * BINS:]
        kp, kpp, length, seen = int(kp), int(kpp), int(length), int(seen)
        n = len(s_arr)
        bnd = [False] * n
        prob = [0.0] * n
        lens = [0] * n
        for t, s in enumerate(quantise(s_arr).tolist()):
            if has_prev and lr:
                g = qp - (1.0 if s > sbar else 0.0)
                a -= lr * g
                u[kp] -= lr * (g + l2 * u[kp])
                v[kpp] -= lr * (g + l2 * v[kpp])
                w -= lr * (g * jp + l2 * w)
            sbar = mu * sbar + (1.0 - mu) * s if seen else s
            k = bisect_right(_EDGES, (s + _EPS) / (sbar + _EPS))
            j = length + 1
            jf = j * inv_target
            z = a + u[k] + v[kp] + w * jf
            pi = 1.0 / (1.0 + math.exp(-min(max(z - theta, -60.0), 60.0)))
            b = j >= lmax or (j >= lmin and z > theta)
            theta += lr_rate * ((1.0 if b else 0.0) - rate)
            length = 0 if b else j
            qp = 1.0 / (1.0 + math.exp(-min(max(z, -60.0), 60.0)))
            kpp, kp, jp, has_prev = kp, k, jf, 1.0
            seen += 1
            bnd[t], prob[t], lens[t] = b, pi, j
        out = np.array(u + v + [w, a, theta, sbar, float(kp), float(kpp), jp, qp, float(length), has_prev,
                                float(seen)])
        return SegmentRecord(np.array(bnd, dtype=bool), np.array(prob), np.array(lens, dtype=np.int64)), out

"""Learned segmentation: an online boundary probability with a target patch rate and min/max patch lengths.

Input: a surprise signal ``s: float64[T]`` (``s_t`` measured once byte t is seen, e.g. a
:class:`~decepticons.control.surprise.PredictiveSurpriseController` record). After each byte t the segmenter
decides whether the current patch ends there (the next byte starts a new one)::

    s_t       = round(min(s_t, 64) * 2^12) / 2^12            (quantised: see below)
    sbar_t    = mu * sbar_{t-1} + (1 - mu) * s_t             running mean surprise
    j_t       = bytes in the current patch, byte t included
    phi_t     = [s_t - sbar_t, s_t - s_{t-1}, j_t / L*]       L* = target patch length
    pi_t      = sigmoid(beta_t + w_t . phi_t)                 boundary probability
    b_t       = 1 if j_t >= L_max;  0 if j_t < L_min;  else [pi_t > 1/2]
    learning, once s_{t+1} is known (step t+1): the label of the previous decision is
    y_t = [s_{t+1} > sbar_t] (a boundary belongs before a surprising byte), and
    w  <- w - eta * ((pi_t - y_t) * phi_t + l2 * w)           (online logistic regression)
    rate control: beta <- beta - eta_rate * (b_t - 1 / L*)    (the long-run boundary rate tracks 1 / L*)

Everything at step t reads ``s_<=t`` only, so decisions are causal. The state (weights, bias, running
surprise, current patch length, last features) is a flat ``float64[STATE_SIZE]`` vector carried across chunks.
The update is a scalar loop (one pass, a few dozen float operations per byte). Surprise is quantised to
``2^-12`` before use so that a batched pass and a byte-by-byte pass, whose surprise values differ by float
rounding (~1e-16), take the same discrete decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, fail, spec

#: flat state layout: w[0:3], beta, sbar, prev_s, prev_phi[6:9], prev_pi, length, has_prev, seen
STATE_SIZE = 13
_QUANT = 4096.0


@dataclass
class SegmenterConfig(Validated):
    target_patch: float = spec(5.0, lo=1.0, hi=256.0, doc="target mean patch length L* (bytes)")
    min_patch: int = spec(1, lo=1, hi=256, doc="shortest patch")
    max_patch: int = spec(12, lo=1, hi=256, doc="longest patch")
    learning_rate: float = spec(0.05, lo=0.0, hi=10.0, doc="eta of the boundary weights")
    rate_learning_rate: float = spec(0.02, lo=0.0, hi=10.0, doc="eta_rate of the rate controller")
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
        st = np.zeros(STATE_SIZE)
        st[3] = -math.log(self.config.target_patch - 0.5) if self.config.target_patch > 1.5 else 0.0
        return st

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
        w0, w1, w2, beta, sbar, prev_s, p0, p1, p2, prev_pi, length, has_prev, seen = st.tolist()
        length, seen = int(length), int(seen)
        n = len(s_arr)
        bnd = [False] * n
        prob = [0.0] * n
        lens = [0] * n
        for t, s in enumerate(quantise(s_arr).tolist()):
            if has_prev and lr:
                g = prev_pi - (1.0 if s > sbar else 0.0)
                w0 -= lr * (g * p0 + l2 * w0)
                w1 -= lr * (g * p1 + l2 * w1)
                w2 -= lr * (g * p2 + l2 * w2)
            sbar = mu * sbar + (1.0 - mu) * s if seen else s
            j = length + 1
            f0, f1, f2 = s - sbar, s - prev_s, j * inv_target
            z = beta + w0 * f0 + w1 * f1 + w2 * f2
            pi = 1.0 / (1.0 + math.exp(-min(max(z, -60.0), 60.0)))
            b = j >= lmax or (j >= lmin and pi > 0.5)
            beta -= lr_rate * ((1.0 if b else 0.0) - rate)
            length = 0 if b else j
            p0, p1, p2, prev_pi, prev_s, has_prev = f0, f1, f2, pi, s, 1.0
            seen += 1
            bnd[t], prob[t], lens[t] = b, pi, j
        out = np.array([w0, w1, w2, beta, sbar, prev_s, p0, p1, p2, prev_pi, float(length), has_prev, float(seen)])
        return SegmentRecord(np.array(bnd, dtype=bool), np.array(prob), np.array(lens, dtype=np.int64)), out

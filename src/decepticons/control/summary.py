"""Controller summaries: the small records that gates, routers and modulators read.

A summary is a reduction of a *state record* (``states: float64[T, d]``, row t = state after byte t) or of a
*prediction record* (``log_probs: float64[T, 256]``, row t = prediction of byte t from bytes < t), one row per
position, computed from that row and earlier ones only::

    state reductions, per band b (a slice of the state) and row t:
        mean_t     = mean_j h_t[j]                energy_t = mean_j h_t[j]^2
        mean_abs_t = mean_j |h_t[j]|              max_abs_t = max_j |h_t[j]|
        drift_t    = mean_j |h_t[j] - h_{t-1}[j]|   (h_{-1} = the state before the record)
    record reductions, row t:
        entropy_t (bits), peak_t = max_c p_t(c), top_k_mass_t, top2_margin_t,
        surprise_t = -log2 p_t(x_t)   (only with the actual bytes; known once x_t is seen)
    running summary (exponential moving average with half-life h, lambda = 2^(-1/h)):
        r_t = lambda * r_{t-1} + (1 - lambda) * v_t

``values: float64[T, k]`` with ``names: tuple[str, ...]`` of length k. Causality: row t of every summary here
reads rows <= t of its input; a consumer predicting byte t+1 may read row t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..substrates import linear_scan
from ..validation import Spec, Validated, spec
from ..views.diagnostics import entropy, top1_mass, top2_margin, top_k_mass

STATE_REDUCTIONS = ("mean", "mean_abs", "energy", "max_abs", "drift")
RECORD_REDUCTIONS = ("entropy", "peak", "top_k_mass", "top2_margin", "surprise")
LN2 = float(np.log(2.0))


@dataclass(frozen=True)
class ControllerSummary:
    """``values: float64[T, k]`` (one row per position) with one name per column."""

    values: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=np.float64)
        if v.ndim == 1:
            v = v[None, :]
        if v.ndim != 2:
            raise InputError(f"ControllerSummary values must be [T, k], got shape {v.shape}")
        names = tuple(self.names)
        if len(names) != v.shape[1]:
            raise InputError(f"ControllerSummary has {v.shape[1]} columns but {len(names)} names")
        if not np.all(np.isfinite(v)):
            raise InputError("ControllerSummary values must be finite")
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "names", names)

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise InputError(f"summary has no column {name!r}; columns: {', '.join(self.names)}")
        return self.values[:, self.names.index(name)]

    def select(self, names: Sequence[str]) -> ControllerSummary:
        return ControllerSummary(np.stack([self.column(n) for n in names], axis=1), tuple(names))

    @staticmethod
    def concat(parts: Sequence[ControllerSummary]) -> ControllerSummary:
        """Columns of several summaries over the same positions, side by side."""
        if not parts:
            raise InputError("concat needs at least one summary")
        if len({len(p) for p in parts}) != 1:
            raise InputError(f"summaries cover different positions: {[len(p) for p in parts]}")
        return ControllerSummary(np.concatenate([p.values for p in parts], axis=1),
                                 tuple(n for p in parts for n in p.names))


@dataclass
class SummaryConfig(Validated):
    """What a :class:`ControllerSummaryBuilder` reduces."""

    state_reductions: tuple[str, ...] = spec(("mean", "energy", "drift"), min_len=1, items=Spec(
        kind="str", choices=STATE_REDUCTIONS), doc="reductions of each band of a state record")
    record_reductions: tuple[str, ...] = spec(("entropy", "peak", "top_k_mass", "top2_margin"), min_len=1,
                                              items=Spec(kind="str", choices=RECORD_REDUCTIONS),
                                              doc="reductions of a prediction record")
    top_k: int = spec(4, lo=1, hi=256, doc="k of the top-k mass")


def _reduce(name: str, h: np.ndarray, prev: np.ndarray) -> np.ndarray:
    if name == "mean":
        return h.mean(axis=1)
    if name == "mean_abs":
        return np.abs(h).mean(axis=1)
    if name == "energy":
        return np.square(h).mean(axis=1)
    if name == "max_abs":
        return np.abs(h).max(axis=1)
    return np.abs(h - prev).mean(axis=1)  # drift


def state_matrix(states: np.ndarray, width: int | None = None, name: str = "states") -> np.ndarray:
    """``states`` as ``float64[T, d]`` (refusing other ranks, a width other than ``width``, non-finite values)."""
    h = np.asarray(states, dtype=np.float64) if not isinstance(states, np.ndarray) or states.dtype != np.float64 \
        else states
    if h.ndim != 2 or (width is not None and h.shape[1] != width):
        want = f"[T, {width}]" if width is not None else "[T, d]"
        raise InputError(f"{name} must have shape {want}, got {h.shape}")
    if not np.all(np.isfinite(h)):
        raise InputError(f"{name} must be finite")
    return h


class ControllerSummaryBuilder:
    """Builds :class:`ControllerSummary` records from state records and prediction records.

    ``bands``: slices of the state reduced separately (default: the whole state, named ``all``).
    """

    def __init__(self, config: SummaryConfig | None = None, bands: Sequence[slice] | None = None,
                 band_names: Sequence[str] | None = None) -> None:
        self.config = config or SummaryConfig()
        self.bands = list(bands) if bands is not None else [slice(None)]
        if not self.bands:
            raise InputError("ControllerSummaryBuilder needs at least one band")
        names = list(band_names) if band_names is not None else (
            ["all"] if bands is None else [f"band{i}" for i in range(len(self.bands))])
        if len(names) != len(self.bands):
            raise InputError(f"{len(self.bands)} bands but {len(names)} band names")
        self.band_names = names

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(f"{b}.{r}" for b in self.band_names for r in self.config.state_reductions)

    def from_states(self, states: np.ndarray, previous: np.ndarray | None = None) -> ControllerSummary:
        """Reductions of each band of ``states: float64[T, d]``; ``previous: float64[d]`` is the state before
        row 0 (zeros by default), used by ``drift``."""
        h = state_matrix(states)
        prev0 = np.zeros(h.shape[1]) if previous is None else np.asarray(previous, dtype=np.float64)
        if prev0.shape != (h.shape[1],):
            raise InputError(f"previous must have shape ({h.shape[1]},), got {prev0.shape}")
        prev = np.concatenate([prev0[None, :], h[:-1]], axis=0) if len(h) else h
        cols = []
        for band in self.bands:
            hb, pb = h[:, band], prev[:, band]
            if hb.shape[1] == 0:
                raise InputError(f"band {band} of a {h.shape[1]}-wide state is empty")
            cols += [_reduce(r, hb, pb) for r in self.config.state_reductions]
        return ControllerSummary(np.stack(cols, axis=1) if len(h) else np.zeros((0, len(cols))), self.state_names)

    def from_record(self, log_probs: np.ndarray, targets: np.ndarray | None = None) -> ControllerSummary:
        """Reductions of a prediction record ``float64[T, 256]``; ``surprise`` needs ``targets: uint8[T]``."""
        lp = np.asarray(log_probs, dtype=np.float64)
        if lp.ndim != 2 or lp.shape[1] != 256:
            raise InputError(f"log_probs must have shape [T, 256], got {lp.shape}")
        cols, names = [], []
        for r in self.config.record_reductions:
            if r == "entropy":
                cols.append(entropy(lp))
            elif r == "peak":
                cols.append(top1_mass(lp))
            elif r == "top_k_mass":
                cols.append(top_k_mass(lp, self.config.top_k))
            elif r == "top2_margin":
                cols.append(top2_margin(lp))
            else:
                if targets is None:
                    raise InputError("the surprise reduction needs the actual bytes (targets)")
                y = np.asarray(targets)
                if y.shape != (len(lp),) or not np.issubdtype(y.dtype, np.integer) or (
                        len(y) and (y.min() < 0 or y.max() > 255)):
                    raise InputError(f"targets must be {len(lp)} byte values, got shape {y.shape}")
                cols.append(-lp[np.arange(len(lp)), y.astype(np.int64)] / LN2)
            names.append(r)
        values = np.stack(cols, axis=1) if len(lp) else np.zeros((0, len(cols)))
        return ControllerSummary(values, tuple(names))


def ema_decay(half_life: float) -> float:
    """``lambda = 2^(-1/h)``."""
    if not (isinstance(half_life, (int, float)) and np.isfinite(half_life) and half_life > 0):
        raise InputError(f"half_life must be a finite number > 0, got {half_life!r}")
    return float(2.0 ** (-1.0 / half_life))


def running(values: np.ndarray, half_life: float, start: np.ndarray | float = 0.0) -> np.ndarray:
    """Exponential moving average along time: ``r_t = lambda r_{t-1} + (1 - lambda) v_t`` for
    ``values: float64[T]`` or ``[T, k]`` from ``r_{-1} = start`` (exact parallel scan)."""
    lam = ema_decay(half_life)
    v = np.asarray(values, dtype=np.float64)
    flat = v.ndim == 1
    v2 = v[:, None] if flat else v
    k = v2.shape[1]
    a = np.full(k, lam)
    r0 = np.broadcast_to(np.asarray(start, dtype=np.float64), (k,)).copy()
    out = linear_scan(a, (1.0 - lam) * v2, r0)
    return out[:, 0] if flat else out


def reference_running(values: np.ndarray, half_life: float, start: np.ndarray | float = 0.0) -> np.ndarray:
    """Loop twin of :func:`running` (for the parity tests)."""
    lam = ema_decay(half_life)
    v = np.asarray(values, dtype=np.float64)
    r = np.broadcast_to(np.asarray(start, dtype=np.float64), v.shape[1:]).copy()
    out = np.empty_like(v)
    for t in range(len(v)):
        r = lam * r + (1.0 - lam) * v[t]
        out[t] = r
    return out

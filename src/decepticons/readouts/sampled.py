"""Sampled multiscale readout: a small, fixed feature map over a wide state.

The state ``h: float64[d]`` is split into bands (contiguous slices, e.g. the decays of a linear memory or the
levels of a hierarchy). Each band keeps ``n_b = min(samples, width_b)`` of its coordinates, chosen once,
deterministically from the seed, and adds its statistics::

    I_b       = sorted(first n_b of a seeded permutation of band b)            (fixed at construction)
    phi(h_t)  = [h_t[I_1], ..., h_t[I_B],  mean_b, energy_b, drift_b for each band b]
    mean_b = mean_{j in b} h_t[j],  energy_b = mean_{j in b} h_t[j]^2,  drift_b = mean_{j in b} |h_t[j] - h_{t-1}[j]|

so a substrate of any width reaches a readout through ``sum_b n_b + 3 B`` features, with every band
represented. Row t reads ``h_t`` and ``h_{t-1}`` only. ``encode`` is the batched path over ``[T, d]`` records;
:meth:`SampledMultiscaleReadout.reference_encode` is the row-by-row loop it must match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..control.summary import STATE_REDUCTIONS, ControllerSummaryBuilder, SummaryConfig, state_matrix
from ..errors import InputError
from ..validation import Spec, Validated, spec


@dataclass
class SampledReadoutConfig(Validated):
    samples: int = spec(8, lo=0, hi=1 << 16, doc="coordinates kept per band")
    stats: tuple[str, ...] = spec(("mean", "energy", "drift"), items=Spec(kind="str", choices=STATE_REDUCTIONS),
                                  doc="statistics of each band")
    seed: int = spec(0, lo=0, hi=2**63 - 1)


class SampledMultiscaleReadout:
    """Deterministic per-band sampling plus band statistics (see the module docstring)."""

    def __init__(self, state_size: int, bands: Sequence[slice], config: SampledReadoutConfig | None = None,
                 band_names: Sequence[str] | None = None) -> None:
        self.config = config or SampledReadoutConfig()
        self.state_size = int(state_size)
        self.bands = list(bands)
        if not self.bands:
            raise InputError("SampledMultiscaleReadout needs at least one band")
        idx = []
        for b, band in enumerate(self.bands):
            lo, hi, step = band.indices(self.state_size)
            if step != 1 or hi <= lo:
                raise InputError(f"band {b} = {band} is not a non-empty contiguous slice of {self.state_size}")
            rng = np.random.default_rng([self.config.seed, b, 0x5A3])
            n = min(self.config.samples, hi - lo)
            idx.append(lo + np.sort(rng.permutation(hi - lo)[:n]))
        self.indices = np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, np.int64)
        self.builder = ControllerSummaryBuilder(SummaryConfig(state_reductions=self.config.stats), self.bands,
                                                band_names) if self.config.stats else None
        if self.feature_size == 0:
            raise InputError("SampledMultiscaleReadout: no samples and no statistics (no features)")

    @property
    def feature_size(self) -> int:
        return len(self.indices) + len(self.bands) * len(self.config.stats)

    def encode(self, states: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """``float64[T, feature_size]`` from ``states: float64[T, d]`` (``previous``: the state before row 0)."""
        h = state_matrix(states, self.state_size)
        parts = [h[:, self.indices]]
        if self.builder is not None:
            parts.append(self.builder.from_states(h, previous).values)
        return np.concatenate(parts, axis=1)

    def reference_encode(self, states: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """Row-by-row loop twin of :meth:`encode`."""
        h = state_matrix(states, self.state_size)
        prev = np.zeros(self.state_size) if previous is None else np.asarray(previous, dtype=np.float64)
        out = np.zeros((len(h), self.feature_size))
        for t in range(len(h)):
            row = [h[t, i] for i in self.indices]
            for band in self.bands:
                v, p = h[t, band], prev[band]
                for s in self.config.stats:
                    row.append({"mean": np.mean(v), "mean_abs": np.mean(np.abs(v)), "energy": np.mean(v * v),
                                "max_abs": np.max(np.abs(v)), "drift": np.mean(np.abs(v - p))}[s])
            out[t] = row
            prev = h[t]
        return out

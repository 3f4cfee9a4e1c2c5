"""Sampled multiscale view: a wide substrate read through a few sampled coordinates per band plus band
statistics (:class:`~decepticons.readouts.sampled.SampledMultiscaleReadout`)::

    R_t = [h_t (include_state), phi(h_t; h_{t-1})]       phi: sampled indices per band, mean/energy/drift per band

Bands come from the substrate (:func:`~decepticons.views.base.state_bands`: decays, levels, or ``n_bands``
slices). Row t reads ``h_t`` and ``h_{t-1}``; no fitted parts, no memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..readouts.sampled import SampledMultiscaleReadout, SampledReadoutConfig
from ..substrates import Substrate
from ..validation import Validated, spec
from .base import RecordView, state_bands


@dataclass
class SampledViewConfig(Validated):
    include_state: bool = spec(False, doc="also keep the whole state (off: the readout sees the samples only)")
    n_bands: int = spec(4, lo=1, hi=4096, doc="bands of a substrate without natural ones")
    readout: dict[str, Any] = spec(default_factory=dict, doc="SampledMultiscaleReadout options")

    def check(self) -> None:
        SampledReadoutConfig.from_dict(self.readout)


class SampledMultiscaleView(RecordView):
    kind = "sampled"
    config_cls = SampledViewConfig

    def __init__(self, substrate: Substrate, config: SampledViewConfig | None = None) -> None:
        super().__init__(substrate, config or SampledViewConfig())
        bands = state_bands(self.substrate, self.config.n_bands)
        self.sampler = SampledMultiscaleReadout(self.substrate.state_size, [b for _, b in bands],
                                                SampledReadoutConfig.from_dict(self.config.readout),
                                                [n for n, _ in bands])

    @property
    def feature_size(self) -> int:
        return self.substrate.state_size * self.config.include_state + self.sampler.feature_size

    @property
    def memory_size(self) -> int:
        return 0

    def init_memory(self) -> np.ndarray:
        return np.zeros(0)

    def records(self, x: np.ndarray, h0: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        H = self.substrate.scan(x, h0)
        phi = self.sampler.encode(H, h0)
        R = np.concatenate([H, phi], axis=1) if self.config.include_state else phi
        return R, H[-1].copy(), memory

"""Linear-memory view: features over a decay bank, per band, with surprise and hormone-modulated gains.

Over a :class:`~decepticons.substrates.linear_memory.LinearMemorySubstrate` with ``K`` decays of ``e``
channels (band k = the ``e`` channels of decay ``lambda_k``), after byte t::

    mean_t[k]   = mean_j h_t[k, j]              energy_t[k] = mean_j h_t[k, j]^2
    drift_t[k]  = mean_j |h_t[k, j] - h_{t-1}[k, j]|                                  (band statistics, 3K)
    s_t         = surprise of h_t given h_{t-1}   PredictiveSurpriseController over the whole bank
    eta_t, gamma_t = HormoneModulator(s_<=t, t)   running surprise and document position -> gains per band
    R_t = [h_t (include_state), band statistics, s_t, log(1 + s_t) (surprise),
           eta_t (2), gamma_t[k] * h_t[k, :] (hormones, K e)]

so a linear readout gets the bank's per-timescale energy and change (nonlinear in the state), how surprising
the latest byte was, and a copy of the state whose per-band gain follows the running surprise and the
position in the document. Everything at t reads bytes <= t. Memory: the running surprise and the bytes seen.
Fitted parts (first ``fit_bytes`` training bytes): the bank predictor and the hormones' standardisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..control.hormones import HormoneConfig, HormoneModulator
from ..control.summary import ControllerSummaryBuilder, SummaryConfig
from ..control.surprise import PredictiveSurpriseController
from ..errors import InputError
from ..substrates import Substrate
from ..validation import Validated, spec
from .base import RecordView, state_bands


@dataclass
class LinearMemoryViewConfig(Validated):
    include_state: bool = spec(True, doc="keep the bank's state in the features")
    band_stats: bool = spec(True, doc="per-band mean, energy and drift")
    surprise: bool = spec(True, doc="surprise of the bank's next state")
    hormones: bool = spec(True, doc="running-surprise / position hormones and the gain-modulated state")
    hormone_options: dict[str, Any] = spec(default_factory=dict, doc="HormoneModulator options (HormoneConfig)")
    fit_bytes: int = spec(1 << 17, lo=2, hi=1 << 40, doc="training bytes the predictor is fitted on")

    def check(self) -> None:
        HormoneConfig.from_dict(self.hormone_options)
        if not (self.include_state or self.band_stats or self.surprise or self.hormones):
            raise InputError("LinearMemoryViewConfig: every feature group is off (no features)")


class LinearMemoryFeatureView(RecordView):
    kind = "linear_memory"
    substrates = ("linear_memory",)
    needs_fit = True
    config_cls = LinearMemoryViewConfig

    def __init__(self, substrate: Substrate, config: LinearMemoryViewConfig | None = None) -> None:
        super().__init__(substrate, config or LinearMemoryViewConfig())
        bands = state_bands(self.substrate)
        self.K, self.e = len(bands), self.substrate.config.embed_dim
        self.builder = ControllerSummaryBuilder(SummaryConfig(state_reductions=("mean", "energy", "drift")),
                                                bands=[b for _, b in bands], band_names=[n for n, _ in bands])
        d = self.substrate.state_size
        self.predictor = PredictiveSurpriseController(d, d)
        self.hormones = HormoneModulator(self.K, HormoneConfig.from_dict(self.config.hormone_options))

    @property
    def feature_size(self) -> int:
        c, d = self.config, self.substrate.state_size
        return d * c.include_state + 3 * self.K * c.band_stats + 2 * c.surprise + (2 + d) * c.hormones

    @property
    def memory_size(self) -> int:
        return 2  # running surprise, bytes seen

    def init_memory(self) -> np.ndarray:
        return np.zeros(2)

    def fit(self, x: np.ndarray) -> None:
        xs = np.asarray(x[:self.config.fit_bytes])
        if len(xs) < 2:
            raise InputError(f"the linear-memory view needs at least 2 training bytes, got {len(xs)}")
        H, prev = self.substrate_states(xs, self.substrate.init_state())
        self.predictor.fit(prev, H)
        self.hormones.fit(self.predictor.observe(prev, H).surprise)
        self._fitted = True

    def params(self) -> dict[str, np.ndarray]:
        return {**self.predictor.params("surprise"), **self.hormones.params("hormones")}

    def load_params(self, tensors: dict[str, np.ndarray]) -> None:
        self.predictor.load_params(tensors, "surprise")
        self.hormones.load_params(tensors, "hormones")
        self._fitted = True

    def records(self, x: np.ndarray, h0: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.config
        H, prev = self.substrate_states(x, h0)
        parts = [H] if c.include_state else []
        if c.band_stats:
            parts.append(self.builder.from_states(H, h0).values)
        run_end, pos = float(memory[0]), int(memory[1])
        if c.surprise or c.hormones:
            s = self.predictor.observe(prev, H).surprise
            if c.surprise:
                parts.append(np.stack([s, np.log1p(s)], axis=1))
            if c.hormones:
                eta, run_end = self.hormones.hormones(s, pos, run_end)
                gains = self.hormones.gains(eta)
                parts += [eta, (H.reshape(len(H), self.K, self.e) * gains[:, :, None]).reshape(len(H), -1)]
        return np.concatenate(parts, axis=1), H[-1].copy(), np.array([run_end, float(pos + len(x))])

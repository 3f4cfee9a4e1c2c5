"""Echo-state substrate: a frozen leaky tanh reservoir.

Update::

    h_t = (1 - alpha) * h_{t-1} + alpha * tanh(W h_{t-1} + U E x_t + b)

``W: [n, n]`` sparse-ish Gaussian rescaled to spectral radius ``rho < 1`` (echo-state property),
``U E`` is folded into one input table ``[256, n]``. Nonlinear, so the batched path is a sequential loop
over time (one ``n x n`` mat-vec per byte); use it for small reservoirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import Validated, spec
from .base import Substrate


@dataclass
class EchoStateConfig(Validated):
    size: int = spec(128, lo=1, hi=4096, doc="reservoir units")
    spectral_radius: float = spec(0.9, lo=0.0, hi=2.0, doc="largest |eigenvalue| of the recurrent matrix")
    leak: float = spec(0.5, lo=0.0, hi=1.0, lo_open=True, doc="leaky-integration rate a")
    input_scale: float = spec(1.0, lo=0.0, hi=1e6, doc="scale of the input weights")
    density: float = spec(0.2, lo=0.0, hi=1.0, lo_open=True, doc="fraction of non-zero recurrent weights")
    seed: int = spec(0, lo=0, hi=2**63 - 1)


class EchoStateSubstrate(Substrate):
    kind = "echo_state"

    def __init__(self, config: EchoStateConfig | None = None) -> None:
        super().__init__(config or EchoStateConfig())
        c = self.config
        rng = np.random.default_rng([c.seed, 4, 0xE5])
        w = rng.standard_normal((c.size, c.size)) * (rng.random((c.size, c.size)) < c.density)
        radius = np.max(np.abs(np.linalg.eigvals(w))) if c.size else 1.0
        self.W = w * (c.spectral_radius / max(radius, 1e-12))
        self.inputs = rng.standard_normal((256, c.size)) * c.input_scale / np.sqrt(4.0)
        self.bias = rng.standard_normal(c.size) * 0.1

    @property
    def state_size(self) -> int:
        return self.config.size

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        a = self.config.leak
        return (1 - a) * state + a * np.tanh(self.W @ state + self.inputs[byte] + self.bias)

    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        a = self.config.leak
        drive = self.inputs[x] + self.bias
        Wt = self.W.T.copy()
        out = np.empty((len(x), self.config.size))
        h = state.copy()
        for t in range(len(x)):
            h = (1 - a) * h + a * np.tanh(h @ Wt + drive[t])
            out[t] = h
        return out

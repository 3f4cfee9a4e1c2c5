"""Linear-memory substrate: a multiscale bank of exponential moving averages of byte embeddings.

Update (per decay ``k`` and embedding channel ``j``)::

    h_t[k, j] = lambda_k * h_{t-1}[k, j] + (1 - lambda_k) * E[x_t, j]

``E: float64[256, embed_dim]`` is a frozen random embedding; ``lambda_k = 2^(-1 / half_life_k)`` with half-lives
log-spaced in ``[half_life_min, half_life_max]`` bytes. State/feature width ``d = n_decays * embed_dim``.
Linear with constant coefficients, so the batched path is an exact parallel scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import Validated, spec
from ._scan import linear_scan
from .base import Substrate, byte_embedding, check_half_lives, check_width


@dataclass
class LinearMemoryConfig(Validated):
    embed_dim: int = spec(8, lo=1, hi=1024, doc="width of the frozen byte embedding")
    n_decays: int = spec(12, lo=1, hi=1024, doc="number of timescales")
    half_life_min: float = spec(1.0, lo=0.0, hi=1e9, lo_open=True, doc="shortest half-life (bytes)")
    half_life_max: float = spec(512.0, lo=0.0, hi=1e9, lo_open=True, doc="longest half-life (bytes)")
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        check_half_lives(self)
        check_width(self, self.n_decays * self.embed_dim)


def half_life_decays(n: int, lo: float, hi: float) -> np.ndarray:
    """``lambda = 2^(-1/h)`` for ``n`` half-lives ``h`` log-spaced in ``[lo, hi]``."""
    hl = np.geomspace(lo, hi, n) if n > 1 else np.array([lo])
    return np.power(2.0, -1.0 / hl)


class LinearMemorySubstrate(Substrate):
    kind = "linear_memory"

    def __init__(self, config: LinearMemoryConfig | None = None) -> None:
        super().__init__(config or LinearMemoryConfig())
        c = self.config
        self.embedding = byte_embedding(c.seed, c.embed_dim, salt=1)
        lam = half_life_decays(c.n_decays, c.half_life_min, c.half_life_max)
        self.a = np.repeat(lam, c.embed_dim)                  # [d]
        self.gain = np.repeat(1.0 - lam, c.embed_dim)          # [d]

    @property
    def state_size(self) -> int:
        return self.config.n_decays * self.config.embed_dim

    def drive(self, x: np.ndarray) -> np.ndarray:
        return np.tile(self.embedding[x], (1, self.config.n_decays)) * self.gain

    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        return linear_scan(self.a, self.drive(x), state)

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        return self.a * state + self.gain * np.tile(self.embedding[byte], self.config.n_decays)

"""Oscillatory substrate: exponential modes plus damped rotations (complex modes) over byte embeddings.

Each complex mode ``z`` with radius ``r`` and frequency ``omega`` evolves as::

    z_t = r * exp(i * omega) * z_{t-1} + (1 - r) * E x_t          (complex, per embedding channel)

and exposes ``(Re z, Im z)``; exponential modes are the ``omega = 0`` case and expose only ``Re z``.
Half-lives of ``r`` are log-spaced; frequencies are spread over ``(0, pi)``. Linear, so scanned exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec
from ._scan import linear_scan
from .base import Substrate, byte_embedding, check_half_lives, check_width
from .linear_memory import half_life_decays


@dataclass
class OscillatoryConfig(Validated):
    embed_dim: int = spec(8, lo=1, hi=1024, doc="width of the frozen byte embedding")
    n_exponential: int = spec(6, lo=0, hi=1024, doc="real decay modes")
    n_oscillatory: int = spec(6, lo=0, hi=1024, doc="damped rotations (two features each)")
    half_life_min: float = spec(2.0, lo=0.0, hi=1e9, lo_open=True, doc="shortest half-life (bytes)")
    half_life_max: float = spec(256.0, lo=0.0, hi=1e9, lo_open=True, doc="longest half-life (bytes)")
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        check_half_lives(self)
        if self.n_exponential + self.n_oscillatory == 0:
            raise InputError("OscillatoryConfig: n_exponential + n_oscillatory must be >= 1")
        check_width(self, (self.n_exponential + 2 * self.n_oscillatory) * self.embed_dim)


class OscillatorySubstrate(Substrate):
    kind = "oscillatory"

    def __init__(self, config: OscillatoryConfig | None = None) -> None:
        super().__init__(config or OscillatoryConfig())
        c = self.config
        self.embedding = byte_embedding(c.seed, c.embed_dim, salt=3)
        r_exp = half_life_decays(c.n_exponential, c.half_life_min, c.half_life_max)
        r_osc = half_life_decays(c.n_oscillatory, c.half_life_min, c.half_life_max)
        rng = np.random.default_rng([c.seed, 3, 0x05C])
        omega = np.pi * (np.arange(c.n_oscillatory) + rng.uniform(0.25, 0.75, c.n_oscillatory)) / max(
            c.n_oscillatory, 1)
        self.a_exp = np.repeat(r_exp, c.embed_dim)
        self.g_exp = np.repeat(1 - r_exp, c.embed_dim)
        self.a_osc = np.repeat(r_osc * np.exp(1j * omega), c.embed_dim)
        self.g_osc = np.repeat(1 - r_osc, c.embed_dim)

    @property
    def state_size(self) -> int:
        c = self.config
        return (c.n_exponential + 2 * c.n_oscillatory) * c.embed_dim

    def _split(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ne = self.config.n_exponential * self.config.embed_dim
        no = self.config.n_oscillatory * self.config.embed_dim
        return state[:ne], state[ne:ne + no] + 1j * state[ne + no:]

    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        c = self.config
        e = self.embedding[x]
        s_exp, s_osc = self._split(state)
        h_exp = linear_scan(self.a_exp, np.tile(e, (1, c.n_exponential)) * self.g_exp, s_exp)
        u = (np.tile(e, (1, c.n_oscillatory)) * self.g_osc).astype(np.complex128)
        h_osc = linear_scan(self.a_osc, u, s_osc.astype(np.complex128))
        return np.concatenate([h_exp, h_osc.real, h_osc.imag], axis=1)

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        c = self.config
        e = self.embedding[byte]
        s_exp, s_osc = self._split(state)
        h_exp = self.a_exp * s_exp + self.g_exp * np.tile(e, c.n_exponential)
        h_osc = self.a_osc * s_osc + self.g_osc * np.tile(e, c.n_oscillatory)
        return np.concatenate([h_exp, h_osc.real, h_osc.imag])

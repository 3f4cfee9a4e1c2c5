"""Hierarchical substrate: fast, mid and slow linear memories, each driven by the level below.

Update::

    f_t = lambda_f * f_{t-1} + (1 - lambda_f) * E x_t            (fast: half-lives ~1-8 bytes)
    m_t = lambda_m * m_{t-1} + (1 - lambda_m) * P_m f_t          (mid: ~16-64 bytes, word/phrase scale)
    s_t = lambda_s * s_{t-1} + (1 - lambda_s) * P_s m_t          (slow: ~128-1024 bytes, passage scale)

``P_m``, ``P_s`` are frozen random projections. Every level is linear and reads the level below at the same
time step, so the whole cascade is causal and scanned exactly, level by level. ``h = [f, m, s]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import Spec, Validated, spec
from ._scan import linear_scan
from .base import Substrate, byte_embedding
from .linear_memory import half_life_decays

_HALF_LIFE = Spec(kind="float", lo=0.0, hi=1e9, lo_open=True)


@dataclass
class HierarchicalConfig(Validated):
    embed_dim: int = spec(16, lo=1, hi=1024, doc="width of the frozen byte embedding")
    level_width: int = spec(64, lo=1, hi=2048, doc="units per level (fast, mid, slow)")
    fast_half_lives: tuple[float, float] = spec((1.0, 8.0), min_len=2, max_len=2, items=_HALF_LIFE,
                                                doc="(shortest, longest) half-life of the fast level")
    mid_half_lives: tuple[float, float] = spec((16.0, 64.0), min_len=2, max_len=2, items=_HALF_LIFE)
    slow_half_lives: tuple[float, float] = spec((128.0, 1024.0), min_len=2, max_len=2, items=_HALF_LIFE)
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        for name in ("fast_half_lives", "mid_half_lives", "slow_half_lives"):
            lo, hi = getattr(self, name)
            if hi < lo:
                raise InputError(f"HierarchicalConfig.{name} = {(lo, hi)}: the second half-life must be >= the first")


class HierarchicalSubstrate(Substrate):
    kind = "hierarchical"

    def __init__(self, config: HierarchicalConfig | None = None) -> None:
        super().__init__(config or HierarchicalConfig())
        c = self.config
        n = c.level_width
        rng = np.random.default_rng([c.seed, 5, 0x41E])
        self.embedding = byte_embedding(c.seed, c.embed_dim, salt=5)
        reps = -(-n // c.embed_dim)
        self.P_f = np.tile(np.eye(c.embed_dim), (1, reps))[:, :n]       # fast level copies the embedding
        self.P_m = rng.standard_normal((n, n)) / np.sqrt(n)
        self.P_s = rng.standard_normal((n, n)) / np.sqrt(n)
        self.lams = [half_life_decays(n, *hl) for hl in (c.fast_half_lives, c.mid_half_lives,
                                                           c.slow_half_lives)]

    @property
    def state_size(self) -> int:
        return 3 * self.config.level_width

    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        n = self.config.level_width
        u = self.embedding[x] @ self.P_f
        outs: list[np.ndarray] = []
        for level, lam in enumerate(self.lams):
            if level == 1:
                u = outs[-1] @ self.P_m
            elif level == 2:
                u = outs[-1] @ self.P_s
            outs.append(linear_scan(lam, (1 - lam) * u, state[level * n:(level + 1) * n]))
        return np.concatenate(outs, axis=1)

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        n = self.config.level_width
        f, m, s = state[:n], state[n:2 * n], state[2 * n:]
        lf, lm, ls = self.lams
        f = lf * f + (1 - lf) * (self.embedding[byte] @ self.P_f)
        m = lm * m + (1 - lm) * (f @ self.P_m)
        s = ls * s + (1 - ls) * (m @ self.P_s)
        return np.concatenate([f, m, s])

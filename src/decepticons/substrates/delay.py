"""Delay-line substrate: the embeddings of the last ``depth`` bytes, side by side.

Update::

    h_t = [E x_t, E x_{t-1}, ..., E x_{t-depth+1}]     (bytes before the start contribute zeros)

``E: float64[256, embed_dim]`` frozen random. State width ``depth * embed_dim``. Exactly a shift register, so
the batched path is array shifting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import Validated, spec
from .base import Substrate, byte_embedding, check_width


@dataclass
class DelayConfig(Validated):
    embed_dim: int = spec(16, lo=1, hi=1024, doc="width of the frozen byte embedding")
    depth: int = spec(4, lo=1, hi=1024, doc="bytes kept exactly (shift-register length)")
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        check_width(self, self.depth * self.embed_dim)


class DelaySubstrate(Substrate):
    kind = "delay"

    def __init__(self, config: DelayConfig | None = None) -> None:
        super().__init__(config or DelayConfig())
        self.embedding = byte_embedding(self.config.seed, self.config.embed_dim, salt=2)

    @property
    def state_size(self) -> int:
        return self.config.depth * self.config.embed_dim

    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        e, D, m = self.config.embed_dim, self.config.depth, self.config.embed_dim
        T = len(x)
        emb = self.embedding[x]                               # [T, m]
        prev = state.reshape(D, m)                            # slot 0 = most recent
        out = np.empty((T, D * e))
        for lag in range(D):
            blk = out[:, lag * m:(lag + 1) * m]
            if lag < T:
                blk[lag:] = emb[:T - lag]
            k = min(lag, T)
            # positions t < lag read from the carried state: slot lag - t - 1
            for t in range(k):
                blk[t] = prev[lag - t - 1]
        return out

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        m = self.config.embed_dim
        return np.concatenate([self.embedding[byte], state[:-m]]) if self.config.depth > 1 \
            else self.embedding[byte].copy()

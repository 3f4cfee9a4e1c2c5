"""The substrate interface: a frozen, causal dynamical system driven by bytes.

A substrate maps a byte sequence ``x: uint8[T]`` and a start state to ``states: float64[T, d]`` where
row t is the feature vector *after* consuming ``x[t]`` (so it depends on ``x[0..t]`` only). The coder reads
row t-1 to predict byte t. ``step`` is the one-byte form of the same update and must agree with
``states`` exactly (up to float64 rounding); both are deterministic functions of the seed.

State is a flat ``float64[state_size]`` vector, so it can be saved, copied and carried across chunks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np

from ..codecs import as_byte_array
from ..errors import InputError


def byte_embedding(seed: int, dim: int, salt: int = 0) -> np.ndarray:
    """Frozen random byte embedding ``E: float64[256, dim]`` with unit-variance rows (Gaussian / sqrt(dim))."""
    rng = np.random.default_rng([seed, salt, 0xB17E])
    return rng.standard_normal((256, dim)) / np.sqrt(dim)


#: largest state (feature) width a substrate may have: the coder's ridge statistics are ``d x d`` float64
MAX_STATE_SIZE = 8192


def check_width(config: Any, width: int) -> None:
    """Refuse a configuration whose state width exceeds :data:`MAX_STATE_SIZE` (before allocating)."""
    if width > MAX_STATE_SIZE:
        raise InputError(f"{type(config).__name__}: state width {width} exceeds the limit of {MAX_STATE_SIZE}")


def check_half_lives(config: Any) -> None:
    """``half_life_min <= half_life_max``."""
    if config.half_life_max < config.half_life_min:
        raise InputError(f"{type(config).__name__}: half_life_max ({config.half_life_max}) must be >= "
                         f"half_life_min ({config.half_life_min})")


class Substrate(ABC):
    """Base class. Subclasses set ``kind`` and implement ``state_size``, ``scan`` and ``step``."""

    kind: ClassVar[str] = "substrate"

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    @abstractmethod
    def state_size(self) -> int:
        """Length of the flat state vector (also the feature width)."""

    def init_state(self) -> np.ndarray:
        return np.zeros(self.state_size)

    @abstractmethod
    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        """``float64[T, state_size]``: the state after each byte of ``x``, starting from ``state``."""

    @abstractmethod
    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        """The state after one more byte (new array; ``state`` is not modified)."""

    def states(self, data: Any, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(states[T, d], final_state)`` for ``data`` from ``state`` (default: the zero start state)."""
        x = as_byte_array(data)
        s0 = self.init_state() if state is None else np.asarray(state, dtype=np.float64)
        if len(x) == 0:
            return np.zeros((0, self.state_size)), s0.copy()
        h = self.scan(x, s0)
        return h, h[-1].copy()

    def reference_states(self, data: Any, state: np.ndarray | None = None) -> np.ndarray:
        """Slow reference: apply :meth:`step` byte by byte (used by the parity tests)."""
        x = as_byte_array(data)
        s = self.init_state() if state is None else np.asarray(state, dtype=np.float64)
        out = np.zeros((len(x), self.state_size))
        for t, b in enumerate(x):
            s = self.step(s, int(b))
            out[t] = s
        return out

    def config_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self.config)}

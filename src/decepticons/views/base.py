"""The view interface: a causal feature source over a frozen substrate, read by a closed-form readout.

A view turns bytes ``x: uint8[T]`` and a carried state into feature rows ``features: float64[T, F]`` where row
t is what a readout sees when predicting ``x_t``: it depends on the carried state and ``x_<t`` only. ``step``
consumes one byte and ``features_of(state)`` is the row for the next byte, so a stream gives the same rows as
``scan`` (up to float rounding). The state is a flat ``float64[state_size]`` vector carried across chunks.

Views with learned parts (a latent predictor, gate standardisation) fit them once in closed form on training
bytes (``fit``), then freeze them; ``params`` / ``load_params`` carry them through model files.

:class:`RecordView` is the common shape: the state is ``[substrate state h, view memory, last record row]``;
``records`` maps a chunk to one record row per byte (the view's reading *after* byte t) and the feature row
for byte t is the record row of byte t-1 (the stored last row for t = 0)::

    features[0] = last row carried in the state      features[t] = R[t-1]      state' = [h_T, mem_T, R[T-1]]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..substrates import Substrate
from ..validation import Validated


class FeatureView(ABC):
    """Base class of every view (see the module docstring)."""

    kind: ClassVar[str] = "view"
    #: substrate kinds the view can read (``None``: any)
    substrates: ClassVar[tuple[str, ...] | None] = None
    #: the view has parameters fitted on training bytes
    needs_fit: ClassVar[bool] = False
    #: the configuration dataclass of the view's options (``None``: the view takes none)
    config_cls: ClassVar[type[Validated] | None] = None

    def __init__(self, substrate: Substrate, config: Any = None) -> None:
        if self.substrates is not None and substrate.kind not in self.substrates:
            raise InputError(f"view {self.kind!r} reads a {' or '.join(self.substrates)} substrate, got "
                             f"{substrate.kind!r}; set substrate={self.substrates[0]}")
        self.substrate = substrate
        self.config = config
        self._fitted = not self.needs_fit

    # ------------------------------------------------------------------ interface
    @property
    @abstractmethod
    def feature_size(self) -> int:
        """F, the width of a feature row."""

    @property
    @abstractmethod
    def state_size(self) -> int:
        """Length of the flat carried state."""

    @abstractmethod
    def init_state(self) -> np.ndarray:
        """The start state (before any byte)."""

    @abstractmethod
    def scan(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(features[T, F], state after x)``; row t predicts ``x[t]`` (no validation: see :meth:`features`)."""

    @abstractmethod
    def features_of(self, state: np.ndarray) -> np.ndarray:
        """``float64[F]``: the feature row for the byte after ``state``."""

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        """The state after one more byte."""
        return self.scan(np.array([byte], dtype=np.uint8), state)[1]

    # ------------------------------------------------------------------ fitted parameters
    @property
    def fitted(self) -> bool:
        return self._fitted

    def fit(self, x: np.ndarray) -> None:
        """Fit the view's learned parts on training bytes (nothing for views without them)."""
        self._fitted = True

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def load_params(self, tensors: dict[str, np.ndarray]) -> None:
        self._fitted = True

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise InputError(f"view {self.kind!r} has not been fitted: call fit() on training bytes first")

    # ------------------------------------------------------------------ checked entry point
    def features(self, data: BytesLike, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`scan` with input checks: bytes (``InputError`` otherwise) and a state of the right shape."""
        x = as_byte_array(data)
        self._require_fitted()
        s = self.init_state() if state is None else np.asarray(state, dtype=np.float64)
        if s.shape != (self.state_size,) or not np.all(np.isfinite(s)):
            raise InputError(f"view {self.kind!r}: state must be a finite float64[{self.state_size}] vector, "
                             f"got shape {s.shape}")
        if len(x) == 0:
            return np.zeros((0, self.feature_size)), s.copy()
        return self.scan(x, s)


class StateView(FeatureView):
    """The substrate state itself: ``features[t] = h_{t-1}`` (the state after byte t-1; the start state for
    t = 0). The coder's default."""

    kind = "state"

    @property
    def feature_size(self) -> int:
        return self.substrate.state_size

    @property
    def state_size(self) -> int:
        return self.substrate.state_size

    def init_state(self) -> np.ndarray:
        return self.substrate.init_state()

    def scan(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        H, end = self.substrate.states(x, state)
        feats = np.empty_like(H)
        if len(H):
            feats[0] = state
            feats[1:] = H[:-1]
        return feats, end

    def features_of(self, state: np.ndarray) -> np.ndarray:
        return state

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        return self.substrate.step(state, byte)


class RecordView(FeatureView):
    """A view whose state is ``[h, memory, last record row]`` (see the module docstring)."""

    @property
    @abstractmethod
    def memory_size(self) -> int:
        """Length of the view's own memory (gate holds, running averages, segmenter state, ...)."""

    @abstractmethod
    def init_memory(self) -> np.ndarray: ...

    @abstractmethod
    def records(self, x: np.ndarray, h0: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(R[T, F], h after x, memory after x)``: ``R[t]`` is the view's reading after byte t."""

    @property
    def state_size(self) -> int:
        return self.substrate.state_size + self.memory_size + self.feature_size

    def init_state(self) -> np.ndarray:
        return np.concatenate([self.substrate.init_state(), self.init_memory(), np.zeros(self.feature_size)])

    def split(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d, m = self.substrate.state_size, self.memory_size
        return state[:d], state[d:d + m], state[d + m:]

    def scan(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        h0, mem, last = self.split(state)
        if len(x) == 0:
            return np.zeros((0, self.feature_size)), state.copy()
        R, h_end, mem_end = self.records(x, h0, mem)
        feats = np.empty_like(R)
        feats[0] = last
        feats[1:] = R[:-1]
        return feats, np.concatenate([h_end, mem_end, R[-1]])

    def features_of(self, state: np.ndarray) -> np.ndarray:
        return state[self.state_size - self.feature_size:]

    def substrate_states(self, x: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H[T, d], previous[T, d])``: substrate states after and before each byte."""
        H = self.substrate.scan(x, h0)
        prev = np.empty_like(H)
        prev[0] = h0
        prev[1:] = H[:-1]
        return H, prev


def state_bands(substrate: Substrate, n_bands: int = 4) -> list[tuple[str, slice]]:
    """Named contiguous bands of a substrate's state: one per decay of a linear memory, the three levels of a
    hierarchy, else ``n_bands`` near-equal slices."""
    c = substrate.config
    if substrate.kind == "linear_memory":
        e = c.embed_dim
        return [(f"decay{k}", slice(k * e, (k + 1) * e)) for k in range(c.n_decays)]
    if substrate.kind == "hierarchical":
        n = c.level_width
        return [(name, slice(i * n, (i + 1) * n)) for i, name in enumerate(("fast", "mid", "slow"))]
    d = substrate.state_size
    nb = max(1, min(n_bands, d))
    edges = np.linspace(0, d, nb + 1).astype(int)
    return [(f"band{i}", slice(int(edges[i]), int(edges[i + 1]))) for i in range(nb)]

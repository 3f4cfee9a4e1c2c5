"""``causal-bank`` on the MLX backend: the MLX model of :mod:`.model_mlx` behind the predictor contract.

Same model file, same rows as :class:`~.predictor.CausalBankPredictor` (torch) within float32 rounding: row
``t`` predicts ``data[t]`` from ``data[:t]`` (the model reads ``[BOS] + data[:-1]``, BOS = byte 0), and a model
trained on detached windows of ``W`` bytes reads every row from a staggered window (:mod:`decepticons.windows`):
``log_probs`` runs the windows in batches, ``stream`` carries two staggered states. Otherwise one pass over
the whole history: ``log_probs`` in chunks carrying the state, ``stream`` one ``step`` per byte.

The file is the torch model file (``state_dict`` names; :meth:`save` writes what torch reads and the
fingerprint is the torch model's), so a model moves between backends unchanged. Predictions differ between
the backends by float rounding only, which is enough to derail an entropy decoder: a compressed file records
the backend that wrote it (:mod:`decepticons.coding.codec`) and decodes with that backend only.

Loading checks the file against the torch model of its configuration (names, shapes, value count), so this
backend needs torch installed beside MLX (torch also builds a fresh model's initial weights).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

import mlx.core as mx
import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..predictor import Stream, log_probs_from_chunks, shift_right
from ..windows import TrainWindowFacts, half_window, window_inputs, window_length, window_plan
from .config import CausalBankConfig
from .model_mlx import CausalBankModel, State

#: bytes per model call when scoring from the whole history (bounds activation memory)
SCORE_CHUNK = 8192
#: positions per model call of the windowed batched path
POSITIONS_PER_CALL = 8192


def _log_softmax(logits: mx.array) -> np.ndarray:
    z = np.array(logits.astype(mx.float32)).astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class _StepStream(Stream):
    """Whole-history stream: the bank's state carried one byte per ``push``."""

    def __init__(self, model: CausalBankModel, bos: int) -> None:
        self._model = model
        self._state: State = model.init_state(1)
        self._lp: np.ndarray | None = None
        self._advance(bos)

    def _advance(self, byte: int) -> None:
        logits, self._state = self._model.step(mx.array([byte], dtype=mx.int32), self._state)
        mx.eval(logits, self._state)
        self._lp = _log_softmax(logits[0])

    def log_probs(self) -> np.ndarray:
        assert self._lp is not None
        return self._lp.copy()

    def push(self, byte: int) -> None:
        self._advance(byte)  # checked by Stream (check_byte)


class _StaggeredStream(Stream):
    """Windowed stream: two states, the one in use and the one started ``H`` bytes later (which takes over
    every ``H`` bytes); the MLX twin of :class:`decepticons.training.windowed.StaggeredStateStream`."""

    def __init__(self, model: CausalBankModel, window: int, bos: int) -> None:
        self._model, self._h, self._t = model, half_window(window), 0
        self._next: State | None = None
        self._cur, self._lp = self._advance(None, bos)

    def _advance(self, state: State | None, byte: int) -> tuple[State, np.ndarray]:
        if state is None:
            state = self._model.init_state(1)
        logits, state = self._model.step(mx.array([byte], dtype=mx.int32), state)
        mx.eval(logits, state)
        return state, _log_softmax(logits[0])

    def log_probs(self) -> np.ndarray:
        return self._lp.copy()

    def push(self, byte: int) -> None:
        self._t += 1
        t, h = self._t, self._h
        if t % h == 0 and t >= 2 * h:  # s(t) moved on by H: the later state takes over
            assert self._next is not None
            self._cur, self._next = self._next, None
        self._cur, self._lp = self._advance(self._cur, byte)
        if t % h == 0:  # a window starts at input t (used from row t + H on)
            self._next, _ = self._advance(None, byte)
        elif self._next is not None:
            self._next, _ = self._advance(self._next, byte)


class MLXCausalBankPredictor(TrainWindowFacts):
    """Causal-bank next-byte model on MLX (module docstring); ``model`` is the :class:`~.model_mlx.CausalBankModel`."""

    name: ClassVar[str] = "causal-bank"
    #: the backend that computes the predictions (the codec records it in a compressed file's header)
    backend: ClassVar[str] = "mlx"
    config_cls: ClassVar[type] = CausalBankConfig
    bos_token: ClassVar[int] = 0

    def __init__(self, config: CausalBankConfig | dict[str, Any] | None = None, *, seed: int = 0,
                 tensors: dict[str, np.ndarray] | None = None, **overrides: Any) -> None:
        if config is None:
            config = CausalBankConfig(**overrides)
        elif isinstance(config, dict):
            config = CausalBankConfig(**{**config, **overrides})
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config: CausalBankConfig = config
        self.seed = seed
        self.model = CausalBankModel(256, config, tensors)
        self.train_window: int | None = None
        self.train_mode: str | None = None

    @classmethod
    def from_torch(cls, predictor: Any) -> MLXCausalBankPredictor:
        """The MLX twin of a torch :class:`~.predictor.CausalBankPredictor` (same weights and training facts)."""
        obj = cls(predictor.config, seed=predictor.seed, tensors=predictor.state_tensors())
        obj.train_window, obj.train_mode = predictor.train_window, predictor.train_mode
        return obj

    # ------------------------------------------------------------------ windows
    @property
    def window(self) -> int | None:
        """The scoring window (the trainer's ``train_window``), or ``None``: the whole history."""
        return self.train_window

    # ------------------------------------------------------------------ contract
    def _run(self, ids: np.ndarray) -> np.ndarray:
        self.model.eval()
        return _log_softmax(self.model(mx.array(ids.astype(np.int32))))

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        """Consecutive ``[n, 256]`` blocks of ``log_probs(data)``: windowed, or with the state carried."""
        x = as_byte_array(data)
        if len(x) == 0:
            return
        self.model.eval()
        if self.window is not None:
            yield from self._windowed_blocks(x, self.window)
            return
        step = max(1, min(int(chunk_size), SCORE_CHUNK))
        state = self.model.init_state(1)
        for s in range(0, len(x), step):
            chunk = shift_right(x[s:s + step], int(x[s - 1]) if s > 0 else self.bos_token)
            logits, state = self.model.forward_with_state(mx.array(chunk.astype(np.int32))[None], state)
            mx.eval(logits, state)
            yield _log_softmax(logits[0])

    def _windowed_blocks(self, x: np.ndarray, window: int) -> Iterator[np.ndarray]:
        L = window_length(window)
        plan = window_plan(len(x), window)
        full = [w for w in plan if w[0] + L <= len(x)]
        tail = [w for w in plan if w[0] + L > len(x)]
        per_call = max(1, POSITIONS_PER_CALL // L)
        for i in range(0, len(full), per_call):
            group = full[i:i + per_call]
            lp = self._run(window_inputs(x, [s for s, _, _ in group], L, self.bos_token))
            yield np.concatenate([lp[j, lo - s:hi - s] for j, (s, lo, hi) in enumerate(group)], axis=0)
        for s, lo, hi in tail:
            yield self._run(window_inputs(x, [s], len(x) - s, self.bos_token))[0, lo - s:hi - s]

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return log_probs_from_chunks(self, data)

    def stream(self) -> Stream:
        self.model.eval()
        if self.window is not None:
            return _StaggeredStream(self.model, self.window, self.bos_token)
        return _StepStream(self.model, self.bos_token)

    @property
    def train_defaults(self) -> dict[str, Any]:
        """The causal bank's preferred :class:`~decepticons.training.TrainConfig` values (the torch predictor's);
        training on MLX: :func:`decepticons.training.mlx_step.fit_mlx`."""
        from .predictor import CausalBankPredictor

        return dict(CausalBankPredictor.train_defaults)

    # ------------------------------------------------------------------ persistence (the torch model file)
    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {k: np.array(v).astype(np.float32) for k, v in self.model.params.items()}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> MLXCausalBankPredictor:
        """Checked as the torch predictor checks a file (names, shapes, values, training facts), then moved."""
        from .predictor import CausalBankPredictor

        return cls.from_torch(CausalBankPredictor.from_state(config, tensors, extra))

    def num_parameters(self) -> int:
        return sum(int(v.size) for v in self.model.params.values())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backend": self.backend, "parameters": self.num_parameters(),
                "config": self.config_dict(), "substrate_mode": self.config.substrate_mode,
                "readout": self.config.readout, "features": self.config.num_features, **self.extra_state()}


__all__ = ["MLXCausalBankPredictor"]

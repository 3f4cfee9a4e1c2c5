"""Base class for torch models that implement the predictor contract.

A subclass supplies a config dataclass (``config_cls``) and ``build_module(config) -> nn.Module`` whose
``forward(x: LongTensor[B, T]) -> FloatTensor[B, T, 256]`` returns next-byte logits (position t sees
bytes 0..t and predicts byte t+1). The predictor contract shifts by one: row t of ``log_probs(data)``
predicts ``data[t]`` from ``data[:t]``, so the module is fed ``[BOS] + data[:-1]`` where BOS is a learned
start byte handled by the module (see ``bos_token``): by default byte 0 is used as the start symbol.

Bounded history: the trainer records on the predictor what it trained for (``train_window``: its ``seq_len``
in detached mode, ``None`` with a carried state; ``train_mode``), kept in the model file's ``extra``. A
subclass with ``scores_in_train_window = True`` (the causal bank) then reads every row of ``log_probs`` and
``stream`` from the module's start state run over a staggered window of the last ``W // 2`` to ``W`` bytes
(:mod:`decepticons.windows`, :mod:`.windowed`), the ages of state it was trained on, for inputs of any
length; otherwise rows condition on the whole history (one module pass; the stream recomputes it).

The module may implement the optional trainer hooks declared as protocols in :mod:`decepticons.training.hooks`
(carried state, auxiliary loss, weight-decay exclusions, slow parameters, run progress, a per-step update).

:meth:`TorchPredictor.fit` trains with that trainer under a short default budget, so every torch model also
works with ``decepticons fit``; ``decepticons train`` exposes the trainer in full.

Save/load go through the kernel's model files (safetensors + JSON config); a file whose tensors do not
match this config is refused with a clear message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError, ModelFileError
from ..predictor import RecomputeStream, Stream, log_probs_from_chunks, shift_right
from ..runtime.reports import FitReport
from ..validation import check_model_size
from ..windows import TrainWindowFacts
from .distributed import parse_device
from .windowed import WindowStream, windowed_log_prob_blocks

#: wall-clock budget of :meth:`TorchPredictor.fit` when none is given (seconds)
FIT_DEFAULT_BUDGET = 60.0


class TorchPredictor(TrainWindowFacts):
    """Wraps an ``nn.Module`` producing ``(B, T, 256)`` logits as a :class:`CausalPredictor`."""

    name: ClassVar[str] = "torch"
    config_cls: ClassVar[type] = object
    #: the byte fed before the first real byte (row 0 of ``log_probs`` conditions only on it)
    bos_token: ClassVar[int] = 0
    #: the model's preferred :class:`~decepticons.training.TrainConfig` values (lr, seq_len, ...)
    train_defaults: ClassVar[dict[str, Any]] = {}
    #: True when :meth:`log_probs` and :meth:`stream` read every row from a window of ``train_window`` bytes
    #: (:attr:`window`); False: from the whole history (or a scheme of the subclass's own)
    scores_in_train_window: ClassVar[bool] = False

    def __init__(self, config: Any = None, *, seed: int = 0, device: str | None = None, **overrides: Any):
        if config is None:
            config = self.config_cls(**overrides)
        elif isinstance(config, dict):
            config = self.config_cls(**{**config, **overrides})
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.seed = seed
        values = self.state_values(config)
        if values is not None:
            check_model_size(type(config).__name__, values)
        self.device = parse_device(device or "cpu")
        self.module: nn.Module = self._fresh_module()

    def _fresh_module(self) -> nn.Module:
        """The module as initialised from ``seed`` (the global torch RNG is left as it was)."""
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)
        try:
            module = self.build_module(self.config)
        finally:
            torch.random.set_rng_state(gen_state)
        return module.to(self.device)

    # --------------------------------------------------------------------------- subclass hooks
    @classmethod
    def build_module(cls, config: Any) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def state_values(cls, config: Any) -> int | None:
        """Values in ``build_module(config).state_dict()`` (parameters and buffers), computed without
        allocating them; ``None`` when unknown. Construction refuses more than
        :data:`~decepticons.validation.MAX_MODEL_VALUES`, loading a file that holds another number."""
        return None

    @classmethod
    def config_from_dict(cls, config: dict[str, Any]) -> Any:
        """The configuration object a model file's ``config`` stands for (validated)."""
        return cls.config_cls(**config)

    # --------------------------------------------------------------------------- contract
    @property
    def window(self) -> int | None:
        """The scoring window ``W`` (:mod:`decepticons.windows`): every row is predicted from the module's
        start state run over at most ``2 (W // 2)`` recent bytes, as in training; ``None``: the whole history."""
        return self.train_window if self.scores_in_train_window else None

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(shift_right(x, self.bos_token)).to(self.device)[None]

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        """Consecutive blocks of :meth:`log_probs`; windowed (bounded memory) when :attr:`window` is set."""
        x = as_byte_array(data)
        if self.window is None:
            yield from super().iter_log_probs(x, chunk_size)
        elif len(x):
            yield from windowed_log_prob_blocks(self.module, x, self.window, self.bos_token, self.device)

    @torch.no_grad()
    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        if len(x) == 0:
            return np.zeros((0, 256))
        if self.window is not None:
            return log_probs_from_chunks(self, x)
        was_training = self.module.training
        self.module.eval()
        try:
            logits = self.module(self._inputs(x))[0].double()
        finally:
            self.module.train(was_training)
        return torch.log_softmax(logits, dim=-1).cpu().numpy()

    def stream(self) -> Stream:
        if self.window is not None:
            return WindowStream(self.module, self.window, self.bos_token, self.device)
        return RecomputeStream(self)

    # --------------------------------------------------------------------------- training
    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None, **train_kwargs: Any) -> FitReport:
        """Train from the initialisation of ``seed`` (whatever was learned before is dropped); see
        :meth:`partial_fit` for the options. :meth:`partial_fit` keeps training the current weights."""
        if len(as_byte_array(data, name="training data")) == 0:
            raise InputError("training data is empty: there is nothing to learn from")
        self.module = self._fresh_module()
        return self.partial_fit(data, valid=valid, workers=workers, progress=progress, **train_kwargs)

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None, **train_kwargs: Any) -> FitReport:
        """Train the current weights with the shared trainer; ``train_kwargs`` are :class:`TrainConfig` fields.

        Without ``budget_seconds``, ``max_steps`` or ``max_tokens`` the run is short (``FIT_DEFAULT_BUDGET``
        seconds); use ``decepticons train`` or :func:`decepticons.training.train` for long runs, checkpoints
        and DDP. ``workers`` is accepted for the common ``fit`` signature; torch uses its own threads.
        """
        from .config import TrainConfig
        from .loop import train

        x = as_byte_array(data, name="training data")
        if len(x) == 0:
            raise InputError("training data is empty: there is nothing to learn from")
        kw = {**self.train_defaults, "seed": self.seed, **train_kwargs}
        if kw.get("budget_seconds") is None and kw.get("max_steps") is None and kw.get("max_tokens") is None:
            kw["budget_seconds"] = FIT_DEFAULT_BUDGET
        run_dir = kw.pop("run_dir", None)
        trainer_cls = kw.pop("trainer_cls", None)  # another backend's trainer (e.g. training.mlx_step.MLXTrainer)
        config = TrainConfig.from_dict(kw)
        if trainer_cls is None:
            result = train(self, x, valid, config, run_dir=run_dir, progress=progress)
        else:
            result = trainer_cls(self, x, valid, config, run_dir=run_dir, progress=progress).run()
        details = {k: v for k, v in result.to_dict().items() if k not in ("curve", "model")}
        return FitReport(model=self.name, train_bytes=len(x), seconds=result.seconds,
                         train_bits_per_byte=float(result.train_bits_per_byte or float("nan")),
                         valid_bytes=result.valid_bytes, valid_bits_per_byte=result.valid_bits_per_byte,
                         workers=workers, details=details)

    # --------------------------------------------------------------------------- persistence
    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)


    def state_tensors(self) -> dict[str, np.ndarray]:
        out = {}
        for k, v in self.module.state_dict().items():
            t = v.detach().cpu()
            if t.dtype in (torch.bfloat16, torch.float16):
                t = t.float()
            out[k] = t.numpy().copy()
        return out

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> TorchPredictor:
        cfg = cls.config_from_dict(config)
        values = cls.state_values(cfg)
        held = sum(int(t.size) for t in tensors.values())
        if values is not None:
            check_model_size(type(cfg).__name__, values)
        if values is not None and values != held:  # checked before the module is allocated
            raise ModelFileError(f"model file does not fit a {cls.name} model with its config: the config "
                                 f"describes {values:,} values, the file holds {held:,}")
        obj = cls(cfg)
        own = obj.module.state_dict()
        missing = sorted(set(own) - set(tensors))
        unexpected = sorted(set(tensors) - set(own))
        wrong = sorted(k for k in own if k in tensors and tuple(own[k].shape) != tuple(tensors[k].shape))
        if missing or unexpected or wrong:
            raise ModelFileError(
                f"checkpoint does not fit a {cls.name} model with this config "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})")
        obj.module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)).to(own[k].dtype)
                                    for k, v in tensors.items()})
        window, mode = extra.get("train_window"), extra.get("train_mode")
        if not (window is None or (isinstance(window, int) and not isinstance(window, bool) and window >= 1)):
            raise ModelFileError(f"model file's train_window must be a positive integer or null, got {window!r}")
        obj.train_window, obj.train_mode = window, mode
        return obj

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "parameters": self.num_parameters(), "config": self.config_dict(),
                **self.extra_state()}

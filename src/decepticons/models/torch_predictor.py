"""Base class for torch models that implement the predictor contract.

A subclass supplies a config dataclass (``config_cls``) and ``build_module(config) -> nn.Module`` whose
``forward(x: LongTensor[B, T]) -> FloatTensor[B, T, 256]`` returns next-byte logits (position t sees
bytes 0..t and predicts byte t+1). The predictor contract shifts by one: row t of ``log_probs(data)``
predicts ``data[t]`` from ``data[:t]``, so the module is fed ``[BOS] + data[:-1]`` where BOS is a learned
start byte handled by the module (see ``bos_token``): by default byte 0 is used as the start symbol.

Save/load go through the kernel's model files (safetensors + JSON config); a file whose tensors do not
match this config is refused with a clear message.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..codecs import BytesLike, as_byte_array
from ..errors import ModelFileError
from ..predictor import CausalPredictor, RecomputeStream, Stream


class TorchPredictor(CausalPredictor):
    """Wraps an ``nn.Module`` producing ``(B, T, 256)`` logits as a :class:`CausalPredictor`."""

    name: ClassVar[str] = "torch"
    config_cls: ClassVar[type] = object
    #: the byte fed before the first real byte (row 0 of ``log_probs`` conditions only on it)
    bos_token: ClassVar[int] = 0

    def __init__(self, config: Any = None, *, seed: int = 0, device: str | None = None, **overrides: Any):
        if config is None:
            config = self.config_cls(**overrides)
        elif isinstance(config, dict):
            config = self.config_cls(**{**config, **overrides})
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.seed = seed
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.module: nn.Module = self.build_module(config)
        finally:
            torch.random.set_rng_state(gen_state)
        self.device = torch.device(device or "cpu")
        self.module.to(self.device)

    # --------------------------------------------------------------------------- subclass hooks
    @classmethod
    def build_module(cls, config: Any) -> nn.Module:
        raise NotImplementedError

    # --------------------------------------------------------------------------- contract
    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        shifted = np.empty(len(x), dtype=np.int64)
        shifted[0] = self.bos_token
        shifted[1:] = x[:-1]
        return torch.from_numpy(shifted).to(self.device)[None]

    @torch.no_grad()
    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        if len(x) == 0:
            return np.zeros((0, 256))
        was_training = self.module.training
        self.module.eval()
        try:
            logits = self.module(self._inputs(x))[0].double()
        finally:
            self.module.train(was_training)
        return torch.log_softmax(logits, dim=-1).cpu().numpy()

    def stream(self) -> Stream:
        return RecomputeStream(self)

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
        obj = cls(config)
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
        return obj

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "parameters": self.num_parameters(), "config": self.config_dict()}

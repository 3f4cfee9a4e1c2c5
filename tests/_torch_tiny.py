"""Tiny torch predictors for the trainer's tests: a causal convolution (stateless) and a GRU (stateful)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from decepticons.training.predictor import TorchPredictor


@dataclass
class TinyConfig:
    width: int = 16
    kernel: int = 4
    dropout: float = 0.0


class TinyConv(nn.Module):
    """Embedding -> causal depthwise-free conv (left padding ``kernel - 1``) -> ReLU -> LayerNorm -> logits."""

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.k = cfg.kernel
        self.emb = nn.Embedding(256, cfg.width)
        self.conv = nn.Conv1d(cfg.width, cfg.width, cfg.kernel)
        self.norm = nn.LayerNorm(cfg.width)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.width, 256)
        self._aux: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb(x).transpose(1, 2)
        h = self.conv(F.pad(h, (self.k - 1, 0))).transpose(1, 2)
        h = self.drop(self.norm(torch.relu(h)))
        self._aux = 1e-3 * h.pow(2).mean()
        return self.out(h)

    def extra_loss(self) -> torch.Tensor | None:
        return self._aux


class TinyConvPredictor(TorchPredictor):
    name = "tiny-conv"
    config_cls = TinyConfig

    @classmethod
    def build_module(cls, config: TinyConfig) -> nn.Module:
        return TinyConv(config)


class TinyGRU(nn.Module):
    """Embedding -> GRU (state ``h``: ``(1, B, width)``) -> logits; carries ``h`` across windows."""

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.width = cfg.width
        self.emb = nn.Embedding(256, cfg.width)
        self.gru = nn.GRU(cfg.width, cfg.width, batch_first=True)
        self.out = nn.Linear(cfg.width, 256)

    def init_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(1, batch, self.width, device=self.out.weight.device)

    def forward_with_state(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, state = self.gru(self.emb(x), state)
        return self.out(h), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_state(x, self.init_state(x.shape[0]))[0]

    def slow_parameters(self) -> list[str]:
        return ["emb.weight"]


class TinyGRUPredictor(TorchPredictor):
    name = "tiny-gru"
    config_cls = TinyConfig

    @classmethod
    def build_module(cls, config: TinyConfig) -> nn.Module:
        return TinyGRU(config)


def corpus(n: int = 20_000, seed: int = 0) -> bytes:
    """Deterministic English-like bytes with structure to learn."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = [b"the ", b"king ", b"and ", b"queen ", b"of ", b"love ", b"my ", b"lord ", b"thou ", b"art ",
             b"fair ", b"sweet ", b"night ", b"day ", b"\n"]
    out = bytearray()
    while len(out) < n:
        out += words[int(rng.integers(len(words)))]
    return bytes(out[:n])

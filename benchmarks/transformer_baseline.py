"""A nanoGPT-style causal byte transformer: the attention baseline the causal bank is measured against.

Per layer (pre-norm), with ``h`` of shape ``(B, T, d)``::

    h <- h + W_o  softmax(mask(Q K^T / sqrt(d_head))) V        Q, K, V = LN(h) W_{q,k,v}, n_head heads
    h <- h + W_2  gelu(W_1 LN(h))                              W_1: d -> 4d, W_2: 4d -> d

with ``h_0 = E[x_t] + P[t]`` (learned byte and position embeddings, ``t < block_size``), a final LayerNorm
and a head tied to ``E``. The mask is causal, so position ``t`` sees ``x_0..x_t`` only.

It is a :class:`~decepticons.training.predictor.TorchPredictor` (trained by the same trainer as the
causal bank) but not registered in the kernel. ``log_probs`` of inputs longer than ``block_size`` uses a
sliding window with stride ``block_size // 2``: row ``t >= block_size`` is read from the window starting at
``stride * (t // stride - 1)``, so it sees between ``block_size // 2`` and ``block_size`` bytes of context,
and rows never depend on the input's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from decepticons.codecs import BytesLike, as_byte_array
from decepticons.errors import InputError
from decepticons.training.predictor import TorchPredictor


@dataclass
class TransformerConfig:
    d_model: int = 96
    n_layer: int = 4
    n_head: int = 4
    block_size: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise InputError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if min(self.d_model, self.n_layer, self.n_head, self.block_size) < 1:
            raise InputError("d_model, n_layer, n_head and block_size must be >= 1")


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.fc_out = nn.Linear(4 * cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, T, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).split(d, dim=-1)
        q, k, v = (t.view(B, T, self.n_head, d // self.n_head).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.drop(self.proj(a.transpose(1, 2).reshape(B, T, d)))
        return h + self.drop(self.fc_out(F.gelu(self.fc(self.ln2(h)))))


class ByteTransformer(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(256, cfg.d_model)
        self.pos = nn.Embedding(cfg.block_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, 256, bias=False)
        self.head.weight = self.tok.weight  # tied
        for name, p in self.named_parameters():
            if p.ndim >= 2:
                std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith(("proj.weight", "fc_out.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if T > self.cfg.block_size:
            raise InputError(f"sequence of {T} bytes is longer than block_size {self.cfg.block_size}")
        h = self.tok(x) + self.pos(torch.arange(T, device=x.device))[None]
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.ln_f(h))


class TransformerBaseline(TorchPredictor):
    """Causal byte transformer predictor (benchmark baseline; not in the registry)."""

    name = "transformer-baseline"
    config_cls = TransformerConfig
    @property
    def train_defaults(self) -> dict:  # type: ignore[override]
        """Train and evaluate on windows of the block size (the longest sequence the module accepts)."""
        L = self.config.block_size
        return {"lr": 2e-3, "warmup_steps": 100, "seq_len": L, "eval_seq_len": L}

    @classmethod
    def build_module(cls, config: TransformerConfig) -> nn.Module:
        return ByteTransformer(config)

    @torch.no_grad()
    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        L = self.config.block_size
        if len(x) <= L:
            return super().log_probs(x)
        stride = L // 2
        inputs = torch.from_numpy(np.concatenate([[self.bos_token], x[:-1]]).astype(np.int64))
        T = len(x)
        # row t is read from the window starting at w(t) = max(0, stride * (t // stride - 1)): it depends on
        # t alone (never on T), so every prefix gets the same rows and the stream agrees with log_probs
        windows = [(0, 0, L)] + [(w, w + stride, w + L) for w in range(stride, T - stride, stride)]
        out = np.empty((T, 256))
        self.module.eval()
        full = [win for win in windows if win[0] + L <= T]
        tail = [win for win in windows if win[0] + L > T]
        for i in range(0, len(full), 32):
            group = full[i:i + 32]
            idx = torch.tensor([w for w, _, _ in group])[:, None] + torch.arange(L)[None]
            lp = torch.log_softmax(self.module(inputs[idx].to(self.device)).double(), -1).cpu().numpy()
            for j, (w, lo, hi) in enumerate(group):
                out[lo:hi] = lp[j, lo - w:hi - w]
        for w, lo, _hi in tail:  # a window cut by the end of the input (causal: its rows are unchanged)
            lp = torch.log_softmax(self.module(inputs[None, w:T].to(self.device)).double(), -1).cpu().numpy()
            out[lo:T] = lp[0, lo - w:]
        return out


def matched_config(n_params: int, n_layer: int = 4, n_head: int = 4, block_size: int = 256) -> TransformerConfig:
    """The config whose parameter count is closest to ``n_params`` (``d_model`` a multiple of ``n_head``)."""
    best = None
    for d in range(n_head, 1025, n_head):
        cfg = TransformerConfig(d_model=d, n_layer=n_layer, n_head=n_head, block_size=block_size)
        n = count_parameters(cfg)
        if best is None or abs(n - n_params) < abs(best[0] - n_params):
            best = (n, cfg)
    return best[1]


def count_parameters(cfg: TransformerConfig) -> int:
    d = cfg.d_model
    per_block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    return 256 * d + cfg.block_size * d + cfg.n_layer * per_block + 2 * d

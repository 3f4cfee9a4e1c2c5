"""The byte transformer module (pre-norm, causal self-attention, tied head).

Per layer, with ``h`` of shape ``(B, T, d)``::

    h <- h + W_o  softmax(mask(Q K^T / sqrt(d_head))) V        Q, K, V = LN(h) W_{q,k,v}, n_head heads
    h <- h + W_2  gelu(W_1 LN(h))                              W_1: d -> 4d, W_2: 4d -> d

with ``h_0 = E[x_t] + P[t]`` (learned byte and position embeddings, ``t < block_size``), a final LayerNorm
and a head tied to ``E``: logits ``(B, T, 256)``. The mask is causal, so position ``t`` sees ``x_0..x_t`` only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .config import TransformerConfig


class Block(nn.Module):
    """One pre-norm block: causal multi-head self-attention, then a GELU MLP, each with a residual."""

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
    """``(B, T)`` byte ids, ``T <= block_size`` -> ``(B, T, 256)`` next-byte logits."""

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

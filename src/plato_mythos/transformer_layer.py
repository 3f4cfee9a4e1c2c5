"""One pre-norm transformer layer: latent attention then a dense or rooms-as-experts feed-forward.

``x <- x + Attn(norm(x));  x <- x + FFN(norm(x))`` with ``x (B, t, D)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import PlatoMythosConfig
from .norms import RMSNorm
from .rooms_as_experts import RoomsAsExperts
from .swiglu import SwiGLU
from .tiles_as_kv import LatentSlot, TilesAsKV


class MythosLayer(nn.Module):
    def __init__(self, config: PlatoMythosConfig, moe: bool) -> None:
        super().__init__()
        self.norm1 = RMSNorm(config.d_model, config.norm_eps)
        self.attn = TilesAsKV(config)
        self.norm2 = RMSNorm(config.d_model, config.norm_eps)
        self.moe = moe
        assert config.ffn_dim is not None  # filled in by PlatoMythosConfig.check()
        self.ffn: nn.Module = RoomsAsExperts(config) if moe else SwiGLU(config.d_model, config.ffn_dim)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, room_bias: torch.Tensor | None = None,
                slot: LatentSlot | None = None,
                freeze: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        a, lat = self.attn(self.norm1(x), cos, sin, slot=slot, freeze=freeze)
        x = x + F.dropout(a, self.dropout, self.training)
        h = self.norm2(x)
        f = self.ffn(h, room_bias) if self.moe else self.ffn(h)
        return x + F.dropout(f, self.dropout, self.training), lat

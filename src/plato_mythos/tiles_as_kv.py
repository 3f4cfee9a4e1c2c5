"""Tiles as keys and values: the tile embedding and multi-head latent attention (MLA).

A *tile* is a token with optional metadata (domain id, confidence). :class:`TileEmbedding` maps it to the
model width; :class:`TilesAsKV` is causal attention whose keys and values are rebuilt from a small latent
per token, so a decoding cache keeps only ``d_kv_latent + rope_dim`` numbers per token and layer instead
of the ``2 * d_model`` of standard multi-head attention.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import PlatoMythosConfig
from .norms import RMSNorm
from .rotary import apply_rotary


class TileEmbedding(nn.Module):
    """``e_t = E[token_t] + M[domain_t] + confidence_t * c``: token embedding conditioned on the metadata.

    Shapes: ``ids (B, T)``, ``domain (B, T)`` long in ``0..num_domains`` (``num_domains`` = no domain),
    ``confidence (B, T)`` float -> ``(B, T, D)``. Without ``tile_metadata`` only ``E`` exists.
    """

    def __init__(self, config: PlatoMythosConfig) -> None:
        super().__init__()
        self.config = config
        self.tokens = nn.Embedding(config.vocab_size, config.d_model)
        if config.tile_metadata:
            self.domains = nn.Embedding(config.num_domains + 1, config.d_model)
            self.confidence = nn.Parameter(torch.zeros(config.d_model))

    def forward(self, ids: torch.Tensor, domain: torch.Tensor | None = None,
                confidence: torch.Tensor | None = None) -> torch.Tensor:
        e = self.tokens(ids)
        if self.config.tile_metadata and domain is not None:
            assert confidence is not None, "domain and confidence are given together"
            e = e + self.domains(domain) + confidence.to(e.dtype)[..., None] * self.confidence
        return e


class LatentSlot:
    """Cache of one attention layer (at one loop): latents ``C (B, L, d_kv_latent)`` and rotated
    keys ``KR (B, L, rope_dim)`` of every position seen so far, in preallocated buffers."""

    def __init__(self, batch: int, capacity: int, d_latent: int, rope_dim: int, dtype: torch.dtype,
                 device: torch.device) -> None:
        self.C = torch.zeros(batch, capacity, d_latent, dtype=dtype, device=device)
        self.KR = torch.zeros(batch, capacity, rope_dim, dtype=dtype, device=device)
        self.length = 0

    def extend(self, c: torch.Tensor, kr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``t`` positions; return the views of all ``length + t`` positions."""
        t = c.shape[1]
        if self.length + t > self.C.shape[1]:
            raise ValueError(f"cache holds {self.C.shape[1]} positions; cannot add {t} to {self.length}")
        self.C[:, self.length:self.length + t] = c
        self.KR[:, self.length:self.length + t] = kr
        self.length += t
        return self.C[:, :self.length], self.KR[:, :self.length]

    def nbytes_per_token(self) -> int:
        return (self.C.shape[-1] + self.KR.shape[-1]) * self.C.element_size()


class TilesAsKV(nn.Module):
    """Causal multi-head latent attention with a decoupled rotary key.

    For inputs ``x (B, t, D)`` at positions ``p0 .. p0 + t - 1``::

        q_h   = W_q x  (per head, ``qk_nope_dim``), qr_h = RoPE(W_qr x)  (per head, ``rope_dim``)
        c     = norm(W_dkv x)                      (``d_kv_latent``, shared by all heads; cached)
        kr    = RoPE(W_kr x)                       (``rope_dim``, shared by all heads; cached)
        k_h   = W_uk,h c  (``qk_nope_dim``),  v_h = W_uv,h c  (``head_dim``)
        a_h   = softmax_{s <= t}((q_h . k_h,s + qr_h . kr_s) / sqrt(qk_nope_dim + rope_dim))
        out   = W_o concat_h(sum_s a_h,s v_h,s)

    With a cache, single-position decoding never rebuilds keys: it scores against the latents directly
    (``q_h W_uk,h`` is a query in latent space) and lifts the latent mixture by ``W_uv,h`` afterwards.
    ``freeze=(halted, c_old, kr_old)`` replaces the latents of halted positions by the ones they had when
    they stopped (adaptive depth: later loops read a halted token's last state).

    When ``qk_nope_dim + rope_dim == head_dim`` queries, keys and values have one width and PyTorch runs
    the fused causal kernel, which skips the masked half of the scores; otherwise it falls back to the
    unfused path. Both compute the same function (tested against :meth:`reference`).
    """

    def __init__(self, config: PlatoMythosConfig) -> None:
        super().__init__()
        D, H, dh, dn, dc, dr = (config.d_model, config.num_heads, config.head_dim, config.qk_nope_dim,
                                config.d_kv_latent, config.rope_dim)
        assert dn is not None  # filled in by PlatoMythosConfig.check()
        self.H, self.dh, self.dn, self.dc, self.dr = H, dh, dn, dc, dr
        self.wq = nn.Linear(D, H * dn + H * dr, bias=False)
        self.w_dkv = nn.Linear(D, dc + dr, bias=False)
        self.kv_norm = RMSNorm(dc, config.norm_eps)
        self.w_uk = nn.Linear(dc, H * dn, bias=False)
        self.w_uv = nn.Linear(dc, H * dh, bias=False)
        self.wo = nn.Linear(H * dh, D, bias=False)
        self.dropout = config.dropout
        self.scale = 1.0 / math.sqrt(dn + dr)

    def latents(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, t, D)`` -> ``c (B, t, d_kv_latent)``, ``kr (B, t, rope_dim)``: what the cache stores."""
        ckr = self.w_dkv(x)
        c, kr = ckr.split((self.dc, self.dr), dim=-1)
        return self.kv_norm(c), apply_rotary(kr, cos, sin)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, slot: LatentSlot | None = None,
                freeze: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, t, _ = x.shape
        H, dh, dn, dr = self.H, self.dh, self.dn, self.dr
        c, kr = self.latents(x, cos, sin)
        if freeze is not None:
            halted, c_old, kr_old = freeze
            m = halted[..., None]
            c, kr = torch.where(m, c_old, c), torch.where(m, kr_old, kr)
        q = self.wq(x)
        qn = q[..., :H * dn].view(B, t, H, dn).transpose(1, 2)
        qr = apply_rotary(q[..., H * dn:].view(B, t, H, dr).transpose(1, 2), cos, sin)
        if slot is None:
            C, KR, past = c, kr, 0
        else:
            past = slot.length
            C, KR = slot.extend(c, kr)
        if past > 0 and t == 1:
            o = self._absorbed(qn[:, :, 0], qr[:, :, 0], C, KR).reshape(B, 1, H * dh)
        else:
            S = C.shape[1]
            k = self.w_uk(C).view(B, S, H, dn).transpose(1, 2)
            v = self.w_uv(C).view(B, S, H, dh).transpose(1, 2)
            k = torch.cat((k, KR[:, None].expand(B, H, S, dr)), dim=-1)
            qq = torch.cat((qn, qr), dim=-1)
            mask = None
            if past > 0:
                mask = torch.ones(t, S, dtype=torch.bool, device=x.device).tril(past)
            o = F.scaled_dot_product_attention(qq, k, v, attn_mask=mask, is_causal=past == 0,
                                               dropout_p=self.dropout if self.training else 0.0,
                                               scale=self.scale)
            o = o.transpose(1, 2).reshape(B, t, H * dh)
        return self.wo(o), (c, kr)

    def reference(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Slow reference of the uncached forward: explicit scores, causal mask and softmax per head."""
        B, t, _ = x.shape
        H, dh, dn, dr = self.H, self.dh, self.dn, self.dr
        c, kr = self.latents(x, cos, sin)
        q = self.wq(x)
        qn = q[..., :H * dn].view(B, t, H, dn)
        qr = apply_rotary(q[..., H * dn:].view(B, t, H, dr).transpose(1, 2), cos, sin).transpose(1, 2)
        k = self.w_uk(c).view(B, t, H, dn)
        v = self.w_uv(c).view(B, t, H, dh)
        s = (torch.einsum("bthd,bshd->bhts", qn, k) + torch.einsum("bthr,bsr->bhts", qr, kr)) * self.scale
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        a = torch.softmax(s.masked_fill(~causal, float("-inf")), dim=-1)
        return self.wo(torch.einsum("bhts,bshd->bthd", a, v).reshape(B, t, H * dh))

    def _absorbed(self, qn: torch.Tensor, qr: torch.Tensor, C: torch.Tensor, KR: torch.Tensor) -> torch.Tensor:
        """One query per row against latents: ``qn (B, H, dn)``, ``qr (B, H, dr)``, ``C (B, S, dc)``,
        ``KR (B, S, dr)`` -> ``(B, H, dh)``."""
        H, dh, dn, dc = self.H, self.dh, self.dn, self.dc
        wuk = self.w_uk.weight.view(H, dn, dc)
        wuv = self.w_uv.weight.view(H, dh, dc)
        # batched matmuls (einsum's planning costs more than the arithmetic at this size)
        ql = torch.matmul(qn.unsqueeze(-2), wuk)                                # (B, H, 1, dc)
        s = (torch.matmul(ql, C.unsqueeze(1).transpose(-1, -2))                   # (B, H, 1, S)
             + torch.matmul(qr.unsqueeze(-2), KR.unsqueeze(1).transpose(-1, -2))) * self.scale
        a = torch.softmax(s.float(), dim=-1).to(C.dtype)
        ol = torch.matmul(a, C.unsqueeze(1))                                     # (B, H, 1, dc)
        return torch.matmul(ol, wuv.transpose(-1, -2)).squeeze(-2)               # (B, H, dh)

    @staticmethod
    def cache_bytes_per_token(config: PlatoMythosConfig, element_size: int = 4) -> int:
        """Bytes one layer caches per token: the latent plus the rotary key."""
        return (config.d_kv_latent + config.rope_dim) * element_size

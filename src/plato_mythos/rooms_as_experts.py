"""Rooms as experts: a mixture-of-experts feed-forward whose routed experts are grouped into rooms.

Expert ``e`` lives in room ``e // experts_per_room``. Each token chooses its own ``top_k_experts`` experts
(token-choice routing; no position ever influences another position's routing)::

    p      = softmax(W_r x + room_bias[room(e)])        room_bias = confidence * R[domain]  (tiles only)
    S      = top-k of (p + b)                           b: balancer bias, used for the choice only
    y      = sum_{e in S} (p_e / sum_{S} p) * expert_e(x) + sum_j shared_j(x)

Load balancing: the switch-style loss ``E * sum_e f_e * P_e`` (``f_e`` fraction of routed slots, ``P_e``
mean probability) is exposed by :attr:`aux_loss` (auxiliary-loss-free balancing adds the bias ``b``): after
each optimizer step :meth:`RoomsAsExperts.apply_balancer` moves ``b_e`` by ``rate * sign(mean load - load_e)``
with the loads the step's forward routed, so within a forward the routing is a pure per-token function.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .config import PlatoMythosConfig
from .swiglu import SwiGLU


class RoomsAsExperts(nn.Module):
    """MoE feed-forward: ``x (..., D)`` [+ ``room_bias (..., num_rooms)``] -> ``(..., D)``."""

    balance_bias: torch.Tensor  # (E,) buffer: the balancer's routing bias

    def __init__(self, config: PlatoMythosConfig) -> None:
        super().__init__()
        D, F_, E = config.d_model, config.expert_dim, config.total_experts
        assert F_ is not None  # filled in by PlatoMythosConfig.check()
        self.E, self.k, self.per_room = E, config.top_k_experts, config.experts_per_room
        self.router = nn.Linear(D, E, bias=False)
        self.experts = nn.ModuleList(SwiGLU(D, F_) for _ in range(E))
        self.shared = nn.ModuleList(SwiGLU(D, F_) for _ in range(config.num_shared_experts))
        self.bias_rate = config.moe_bias_rate
        self.register_buffer("balance_bias", torch.zeros(E))
        #: balance loss and routed slots per expert ``(E,)`` of the last call
        self.aux_loss: torch.Tensor | None = None
        self.last_load: torch.Tensor | None = None

    @torch.no_grad()
    def apply_balancer(self, load: torch.Tensor) -> None:
        """One balancer step from ``load (E,)``, the routed slots per expert of a training step:
        ``b_e += rate * sign(mean(load) - load_e)``, then ``b -= mean(b)``."""
        load = load.to(torch.float32)
        if self.bias_rate > 0 and float(load.sum()) > 0:
            self.balance_bias += self.bias_rate * torch.sign(load.mean() - load)
            self.balance_bias -= self.balance_bias.mean()

    def route(self, x: torch.Tensor, room_bias: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (N, D)`` -> probabilities ``(N, E)``, chosen experts ``(N, k)``, their weights ``(N, k)``."""
        logits = self.router(x).float()
        if room_bias is not None:
            logits = logits + room_bias.float().repeat_interleave(self.per_room, dim=-1)
        probs = torch.softmax(logits, dim=-1)
        idx = torch.topk(probs.detach() + self.balance_bias, self.k, dim=-1).indices
        w = probs.gather(-1, idx)
        w = w / w.sum(-1, keepdim=True)
        return probs, idx, w.to(x.dtype)

    def forward(self, x: torch.Tensor, room_bias: torch.Tensor | None = None) -> torch.Tensor:
        shape = x.shape
        xf = x.reshape(-1, shape[-1])
        if room_bias is not None:
            room_bias = room_bias.reshape(-1, room_bias.shape[-1])
        probs, idx, w = self.route(xf, room_bias)
        flat = idx.reshape(-1)
        counts = torch.bincount(flat, minlength=self.E)
        if self.training:
            frac = counts.float() / flat.numel()
            self.aux_loss = self.E * (frac * probs.mean(0)).sum()
        else:
            self.aux_loss = None
        self.last_load = counts
        if xf.shape[0] == 1 and not torch.is_grad_enabled():  # one decoding position: call its experts directly
            out = sum(w[0, j] * self.experts[e](xf) for j, e in enumerate(idx[0].tolist()))
        else:
            out = self._dispatch(xf, flat, counts, w)
        for s in self.shared:
            out = out + s(xf)
        return out.view(shape)

    def _dispatch(self, xf: torch.Tensor, flat: torch.Tensor, counts: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Routed experts on ``xf (N, D)``: sort the ``N * k`` slots by expert, run each expert once on its
        slots, scatter the weighted outputs back -> ``(N, D)``."""
        order = torch.argsort(flat, stable=True)
        tok = order // self.k
        xs = xf.index_select(0, tok)  # backward: one index_add (faster than indexing's accumulate)
        ws = w.reshape(-1)[order, None]
        # split (not slicing): its backward concatenates the pieces instead of zero-filling a full-size
        # gradient per expert
        outs = [self.experts[e](part) for e, part in enumerate(torch.split(xs, counts.tolist())) if len(part)]
        y = torch.cat(outs, dim=0) * ws
        return torch.zeros_like(xf).index_add_(0, tok, y)

    def reference(self, x: torch.Tensor, room_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Slow reference: every expert on every token, masked by the routing weights."""
        shape = x.shape
        xf = x.reshape(-1, shape[-1])
        if room_bias is not None:
            room_bias = room_bias.reshape(-1, room_bias.shape[-1])
        _, idx, w = self.route(xf, room_bias)
        gate = torch.zeros(xf.shape[0], self.E, dtype=xf.dtype, device=xf.device).scatter(1, idx, w)
        experts = [cast(SwiGLU, ex) for ex in self.experts]
        w13 = torch.stack([ex.w13.weight for ex in experts])  # (E, 2F, D)
        w2 = torch.stack([ex.w2.weight for ex in experts])  # (E, D, F)
        h = torch.einsum("nd,efd->enf", xf, w13)
        a, b = h.chunk(2, dim=-1)
        y = torch.einsum("enf,edf->end", F.silu(a) * b, w2)
        out = torch.einsum("ne,end->nd", gate, y)
        for s in self.shared:
            out = out + s(xf)
        return out.view(shape)

"""Deadband adaptive computation: when a position stops looping.

Two layers of API:

* the whole-state controller of plato-mythos 0.1.0: ``reset(state)``, ``should_continue(state, step)``
  (False once ``||state - previous|| / ||previous|| < threshold`` or ``step >= max_steps``) and
  ``get_priority(metadata)`` -> ``"P0" | "P1" | "P2"`` with tier thresholds P0 = 0.99, P1 = 0.8, P2 = 0.5;
* per-token halting used by the model. After loop ``i`` (1-based) of ``L = max_loop_depth`` every position
  ``t`` computes ``delta_t = ||h_i,t - h_i-1,t|| / ||h_i-1,t||`` and, from its own state only (so causality
  holds), the gain it still expects from running the remaining loops,
  ``g_hat_t = exp(MLP([rmsnorm(h_i,t), log(delta_t + 1e-6), i / L])) - 1e-4`` (nats of next-token loss),
  and the halting probability

      q_t = sigmoid((ponder_cost * r_i - g_hat_t) / temperature),     r_i = max(L - i, 1)

  (the probability that the remaining ``r_i`` loops cannot pay for themselves at ``ponder_cost`` nats per
  loop). Position ``t`` halts when ``q_t >= tier threshold of t`` (P0 waits longest) or
  ``delta_t < threshold`` (the deadband). A halted position keeps its state and its cached keys.

Training the halting head. In a training step that runs all ``L`` loops, the per-loop next-token
distributions ``p_i,t`` of a few rows are computed without gradient, and the head regresses what stopping
after loop ``i`` would cost in expectation, the divergence from the full-depth prediction

    g_i,t = KL(p_L,t || p_i,t) = sum_y p_L,t(y) (log p_L,t(y) - log p_i,t(y))      (nats, >= 0)

(targets from :meth:`DeadbandACT.remaining_divergence`, clipped at ``1`` nat, far above any price of a loop;
squared error in log space, :meth:`DeadbandACT.log_gain_loss`, because the decision compares gains of the
size of ``ponder_cost``). The log-space fit estimates a geometric rather than an arithmetic mean, which halts
a little earlier than the exact rule would. If the full-depth prediction is the truth, ``g_i,t`` is exactly
the expected extra loss of halting; the realised gain ``l_i,t - l_L,t`` (:meth:`DeadbandACT.remaining_gain`)
has the same expectation but carries the sampling noise of the one observed next token, which is large
against the gains the decision compares (``benchmarks/bench_mythos_halting.py`` measures how well the head,
and its input the state change, track each target). The head's inputs are detached, so it never changes
the language model itself.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .config import TIER_THRESHOLDS


class DeadbandACT(nn.Module):
    """Deadband halting controller (see the module docstring for the equations)."""

    P0: float = TIER_THRESHOLDS["P0"]
    P1: float = TIER_THRESHOLDS["P1"]
    P2: float = TIER_THRESHOLDS["P2"]
    TIERS: dict[str, float] = dict(TIER_THRESHOLDS)

    def __init__(self, threshold: float = 1e-3, max_steps: int = 12, d_model: int | None = None,
                 hidden: int = 64, max_loop_depth: int | None = None, ponder_cost: float = 0.003,
                 temperature: float = 0.002) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.threshold = float(threshold)
        self.max_steps = int(max_steps)
        self.max_loop_depth = int(max_loop_depth or max_steps)
        self.ponder_cost, self.temperature = float(ponder_cost), float(temperature)
        self._prev: torch.Tensor | None = None
        if d_model is not None:
            self.head = nn.Sequential(nn.Linear(d_model + 2, hidden), nn.GELU(), nn.Linear(hidden, 1))
            # expects a gain of 1 nat: nothing halts before training
            nn.init.constant_(cast(nn.Linear, self.head[2]).bias, 0.0)

    # ------------------------------------------------------------------ compatibility API
    def reset(self, state: torch.Tensor | None = None) -> None:
        """Forget the previous state (or start from ``state``)."""
        self._prev = None if state is None else state.detach().clone()

    def should_continue(self, state: torch.Tensor, step: int) -> bool:
        """True while the state still moves by at least the deadband and ``step < max_steps``."""
        prev, self._prev = self._prev, state.detach().clone()
        if step >= self.max_steps:
            return False
        if prev is None:
            return True
        if prev.shape != state.shape:
            raise ValueError(f"state shape {tuple(state.shape)} differs from the previous {tuple(prev.shape)}")
        delta = float((state.detach() - prev).float().norm() / (prev.float().norm() + 1e-12))
        return delta >= self.threshold

    @staticmethod
    def get_priority(metadata: dict[str, Any] | None) -> str:
        """``{"critical": True}`` or confidence >= 0.99 -> P0; confidence >= 0.8 -> P1; else P2; None -> P1."""
        if metadata is None:
            return "P1"
        if metadata.get("critical", False):
            return "P0"
        conf = metadata.get("confidence")
        if conf is None:
            return "P1"
        conf = float(conf)
        if conf >= 0.99:
            return "P0"
        if conf >= 0.8:
            return "P1"
        return "P2"

    @classmethod
    def tier_threshold(cls, priority: str) -> float:
        if priority not in cls.TIERS:
            raise ValueError(f"unknown priority {priority!r}; expected one of {sorted(cls.TIERS)}")
        return cls.TIERS[priority]

    # ------------------------------------------------------------------ per-token halting
    @classmethod
    def token_thresholds(cls, confidence: torch.Tensor | None, shape: tuple[int, int],
                         device: torch.device | None = None) -> torch.Tensor:
        """Halting threshold per position ``(B, T)`` from per-position confidence (None: all P1)."""
        if confidence is None:
            return torch.full(shape, cls.P1, device=device)
        c = confidence.float()
        return torch.where(c >= 0.99, cls.P0, torch.where(c >= 0.8, cls.P1, cls.P2))

    @staticmethod
    def relative_change(h: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """``||h - h_prev|| / ||h_prev||`` per position: ``(B, T, D) -> (B, T)``."""
        return (h - h_prev).float().norm(dim=-1) / (h_prev.float().norm(dim=-1) + 1e-6)

    #: offset of the log-space regression: the head predicts ``log(g + GAIN_EPS)``
    GAIN_EPS: float = 1e-4

    def log_gain(self, h: torch.Tensor, delta: torch.Tensor, loop: int) -> torch.Tensor:
        """The head's output ``log(g_hat + GAIN_EPS)`` after loop ``loop`` (1-based): ``(B, T, D), (B, T) ->
        (B, T)``. Trained against ``log(g + GAIN_EPS)`` (:meth:`log_gain_loss`)."""
        h = h.detach().float()
        feats = torch.cat((F.rms_norm(h, (h.shape[-1],)), torch.log(delta.detach().float() + 1e-6)[..., None],
                           torch.full_like(delta, loop / self.max_loop_depth, dtype=torch.float32)[..., None]),
                          dim=-1)
        return self.head(feats.to(cast(nn.Linear, self.head[0]).weight.dtype)).squeeze(-1).float()

    def expected_gain(self, h: torch.Tensor, delta: torch.Tensor, loop: int) -> torch.Tensor:
        """``g_hat`` after loop ``loop`` (1-based) per position: ``(B, T, D), (B, T) -> (B, T)`` nats."""
        return self.log_gain(h, delta, loop).exp() - self.GAIN_EPS

    @classmethod
    def log_gain_loss(cls, log_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Squared error in log space, ``mean((log_pred - log(target + GAIN_EPS))^2)``: the halting
        decision compares gains of the size of the ponder cost, which a raw-scale fit would give up for the
        few positions whose prediction still changes by whole nats."""
        return F.mse_loss(log_pred, torch.log(target.float().clamp_min(0) + cls.GAIN_EPS))

    def halt_logits(self, h: torch.Tensor, delta: torch.Tensor, loop: int) -> torch.Tensor:
        """Halting logit ``(ponder_cost * r - g_hat) / temperature`` after loop ``loop``: ``(B, T)``."""
        return self.gain_to_logit(self.expected_gain(h, delta, loop), loop)

    def gain_to_logit(self, gain: torch.Tensor, loop: int) -> torch.Tensor:
        """``(ponder_cost * max(L - loop, 1) - gain) / temperature``."""
        remaining = max(self.max_loop_depth - int(loop), 1)
        return (self.ponder_cost * remaining - gain) / self.temperature

    def halt_now(self, h: torch.Tensor, delta: torch.Tensor, loop: int, thresholds: torch.Tensor) -> torch.Tensor:
        """Boolean ``(B, T)``: positions that stop after loop ``loop``."""
        q = torch.sigmoid(self.halt_logits(h, delta, loop))
        return (q >= thresholds) | (delta < self.threshold)

    @staticmethod
    def remaining_divergence(log_probs: torch.Tensor, clip: float = 1.0) -> torch.Tensor:
        """``log_probs (n, ..., V)`` after loops ``1..n`` -> ``KL(p_n || p_i)`` for loops ``1..n-1``,
        clipped at ``clip`` nats: ``(n - 1, ...)``."""
        if log_probs.shape[0] < 2:
            raise ValueError(f"need the predictions of at least 2 loops, got {log_probs.shape[0]}")
        last = log_probs[-1:]
        kl = (last.exp() * (last - log_probs[:-1])).sum(-1)
        return kl.clamp(0.0, clip)

    @staticmethod
    def remaining_gain(losses: torch.Tensor) -> torch.Tensor:
        """``losses (n, ...)`` after loops ``1..n`` -> ``l_i - l_n`` for loops ``1..n-1``: ``(n - 1, ...)``."""
        if losses.shape[0] < 2:
            raise ValueError(f"need the losses of at least 2 loops, got {losses.shape[0]}")
        return (losses - losses[-1:])[:-1]

"""Staggered-window scoring of torch modules (the scheme of :mod:`decepticons.windows`).

With ``H = W // 2`` and ``L = 2 H``, row ``t`` of an input is read from the window that starts, from the
module's start state, at input ``s(t) = max(0, H (t // H - 1))``; so every prediction is made from a state
(or context) of age ``t - s(t)`` in ``[H, L)`` past the first window, the ages a module trained on windows
of ``W`` bytes has seen.

* :func:`windowed_log_prob_blocks`: the batched path. Windows of ``(L,)`` inputs run ``G`` at a time as a
  ``(G, L)`` batch through ``module(ids) -> (G, L, 256)`` logits (the module's forward from its start
  state); window 0 contributes rows ``[0, L)``, window ``k`` rows ``[kH + H, kH + L)``. A window cut by the
  end of the input runs alone on its shorter inputs (the module is causal, so its rows are unchanged).
* :class:`WindowStream`: any module; row ``t`` recomputes the window ``[s(t), t]`` (at most ``L`` inputs).
* :class:`StaggeredStateStream`: a :class:`~.hooks.StatefulModule`; two states advance one byte per push,
  the one in use (started at ``s(t)``) and the one started ``H`` later, which takes over every ``H`` bytes
  (when a fresh one starts). O(1) memory and two one-byte steps per byte.

Both streams give the batched path's rows (within float32 rounding of the module).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..predictor import Stream, shift_right
from ..windows import half_window, window_inputs, window_length, window_plan, window_start
from .hooks import StatefulModule

#: positions per module call of the batched path (bounds activation memory)
POSITIONS_PER_CALL = 8192


def _log_softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(logits.double(), dim=-1).cpu().numpy()


@torch.no_grad()
def windowed_log_prob_blocks(module: nn.Module, x: np.ndarray, window: int, start_byte: int,
                             device: torch.device) -> Iterator[np.ndarray]:
    """Consecutive ``float64[n, 256]`` blocks of the windowed ``log_probs`` of ``x`` (see the module docstring)."""
    L = window_length(window)
    plan = window_plan(len(x), window)
    full = [w for w in plan if w[0] + L <= len(x)]
    tail = [w for w in plan if w[0] + L > len(x)]
    per_call = max(1, POSITIONS_PER_CALL // L)
    was = module.training
    module.eval()
    try:
        for i in range(0, len(full), per_call):
            group = full[i:i + per_call]
            ids = window_inputs(x, [s for s, _, _ in group], L, start_byte)
            lp = _log_softmax(module(torch.from_numpy(ids).to(device)))
            yield np.concatenate([lp[j, lo - s:hi - s] for j, (s, lo, hi) in enumerate(group)], axis=0)
        for s, lo, hi in tail:
            ids = window_inputs(x, [s], len(x) - s, start_byte)
            lp = _log_softmax(module(torch.from_numpy(ids).to(device)))
            yield lp[0, lo - s:hi - s]
    finally:
        module.train(was)


class WindowStream(Stream):
    """Step-by-step windowed prediction for any module: row ``t`` runs the window ``[s(t), t]`` again."""

    def __init__(self, module: nn.Module, window: int, start_byte: int, device: torch.device) -> None:
        self._module, self._window, self._start, self._device = module, window, start_byte, device
        self._keep = window_length(window) + 1  # bytes x[s(t) - 1 : t] cover every input of the window
        self._recent: list[int] = []
        self._t = 0

    @torch.no_grad()
    def log_probs(self) -> np.ndarray:
        t = self._t
        s = window_start(t, self._window)
        # inputs s..t are x[s-1..t-1] (the start byte for input 0); the buffer ends at x[t-1]
        hist = np.asarray(self._recent[len(self._recent) - (t - max(s - 1, 0)):], dtype=np.uint8) \
            if t > 0 else np.zeros(0, dtype=np.uint8)
        ids = shift_right(np.append(hist, 0).astype(np.uint8), self._start) if s == 0 else hist.astype(np.int64)
        was = self._module.training
        self._module.eval()
        try:
            logits = self._module(torch.from_numpy(ids)[None].to(self._device))
        finally:
            self._module.train(was)
        return _log_softmax(logits[0, -1])

    def push(self, byte: int) -> None:
        self._recent.append(byte)  # checked by Stream (check_byte)
        if len(self._recent) > 2 * self._keep:
            del self._recent[:-self._keep]
        self._t += 1


class StaggeredStateStream(Stream):
    """Windowed prediction carrying two states of a :class:`~.hooks.StatefulModule` (module docstring)."""

    def __init__(self, module: nn.Module, window: int, start_byte: int, device: torch.device) -> None:
        if not isinstance(module, StatefulModule):
            raise InputError(f"{type(module).__name__} has no forward_with_state / init_state")
        self._module, self._device = module, device
        self._h = half_window(window)
        self._t = 0
        self._cur: Any = None  # the state in use (started at s(t)), after input t
        self._next: Any = None  # the state started H inputs later, after input t (None before it starts)
        self._lp: np.ndarray | None = None
        self._cur, self._lp = self._advance(None, start_byte)

    @torch.inference_mode()
    def _advance(self, state: Any, byte: int) -> tuple[Any, np.ndarray]:
        """One input through ``state`` (``None``: the start state) -> (new state, log-probs of the next row)."""
        was = self._module.training
        self._module.eval()
        try:
            if state is None:
                state = self._module.init_state(1)
            ids = torch.tensor([[byte]], dtype=torch.long, device=self._device)
            logits, state = self._module.forward_with_state(ids, state)
        finally:
            self._module.train(was)
        return state, _log_softmax(logits[0, -1])

    def log_probs(self) -> np.ndarray:
        assert self._lp is not None
        return self._lp.copy()

    def push(self, byte: int) -> None:
        b = byte  # checked by Stream (check_byte)
        self._t += 1
        t, h = self._t, self._h
        if t % h == 0 and t >= 2 * h:  # s(t) moved on by H: the later state takes over
            self._cur, self._next = self._next, None
        self._cur, self._lp = self._advance(self._cur, b)
        if t % h == 0:  # a window starts at input t (used from row t + H on)
            self._next, _ = self._advance(None, b)
        elif self._next is not None:
            self._next, _ = self._advance(self._next, b)


__all__ = ["POSITIONS_PER_CALL", "StaggeredStateStream", "WindowStream", "windowed_log_prob_blocks"]

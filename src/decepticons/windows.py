"""Bounded history by staggered windows: every prediction of an input of any length made from a state the
model was trained for.

A model trained on windows of ``W`` bytes, each from its start state, only ever predicted from states (or
attention contexts) that began 0 to ``W - 1`` bytes earlier; run over a longer input from one state it leaves
that distribution. With ``H = max(1, W // 2)`` and window length ``L = 2 H``, scoring reads every row from a
window started at most ``L - 1`` and (past the first window) at least ``H`` bytes before it::

    window k starts at s_k = k H and reads the inputs [s_k, s_k + L)        (input j is x_{j-1}; input 0 the
                                                                             start byte)
    row t is read from the window starting at  s(t) = max(0, H (t // H - 1))

so row ``t`` conditions on ``x[s(t) - 1 : t]`` (``x_<t`` whole while ``t < L``). ``s(t)`` depends on ``t``
alone, never on the input's length: every prefix gets the same rows, which is what makes a stream agree
with the batched path. Batched (:func:`window_plan`, :func:`window_inputs`): the windows run in parallel,
window 0 giving rows ``[0, L)`` and window ``k >= 1`` rows ``[s_k + H, s_k + L)``, so every input byte is read
twice. Streaming: two states run side by side, the one in use and the one started ``H`` bytes later; every
``H`` bytes the later one takes over and a fresh one starts (twice the work per byte, O(1) memory).

Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .predictor import CausalPredictor


class TrainWindowFacts(CausalPredictor):
    """What a gradient-trained predictor (torch or MLX) derives from its scoring window ``window`` (``None``:
    the whole history) and the trainer's ``train_window`` / ``train_mode``: the longest history a row reads,
    and the facts kept in its model file (``extra_state``) and fingerprint (``prediction_facts``). One place,
    so the backends write the same file and the same fingerprint."""

    #: the trainer's window length when the module last trained on windows from its start state (``detached``
    #: mode), else ``None``; set by the trainer, kept in the model file's ``extra``
    train_window: int | None = None
    #: the trainer's mode of the last training run (``detached`` / ``carried``; ``None``: never trained)
    train_mode: str | None = None

    @property
    def window(self) -> int | None:
        raise NotImplementedError

    @property
    def context_length(self) -> int | None:  # type: ignore[override]
        w = self.window
        return None if w is None else window_length(w)

    @property
    def slides_window(self) -> bool:  # type: ignore[override]
        return self.window is not None

    def extra_state(self) -> dict[str, Any]:
        """How the model was trained (``train_window``, ``train_mode``) and, when it scores in windows, their
        length (``scoring_window``: every row predicted from at most that many recent bytes)."""
        out: dict[str, Any] = {}
        if self.train_mode is not None:
            out.update(train_window=self.train_window, train_mode=self.train_mode)
        if self.window is not None:
            out["scoring_window"] = window_length(self.window)
        return out

    def prediction_facts(self) -> dict[str, Any]:
        """The scoring window changes predictions, so it is part of the fingerprint."""
        return {} if self.window is None else {"scoring_window": window_length(self.window)}


def half_window(window: int) -> int:
    """``H = max(1, W // 2)``: the stride of the windows and the least history of a row past the first."""
    if int(window) < 1:
        raise InputError(f"a scoring window must be >= 1 byte, got {window}")
    return max(1, int(window) // 2)


def window_length(window: int) -> int:
    """``L = 2 H``: the bytes each window reads (the longest history a row conditions on)."""
    return 2 * half_window(window)


def window_start(t: int, window: int) -> int:
    """``s(t) = max(0, H (t // H - 1))``: the input where the window that predicts row ``t`` starts."""
    h = half_window(window)
    return max(0, h * (int(t) // h - 1))


def window_plan(n: int, window: int) -> list[tuple[int, int, int]]:
    """``(start, lo, hi)`` per window for an input of ``n`` bytes: rows ``[lo, hi)`` are read from the window
    whose first input is ``start`` (so its local positions ``lo - start .. hi - start - 1``); the row ranges
    tile ``[0, n)`` in order. A window runs over inputs ``[start, min(start + L, n))``."""
    h, L = half_window(window), window_length(window)
    if n <= 0:
        return []
    plan = [(0, 0, min(L, n))]
    s = h
    while s + h < n:
        plan.append((s, s + h, min(s + L, n)))
        s += h
    return plan


def window_inputs(x: np.ndarray, starts: np.ndarray | list[int], length: int, start_byte: int) -> np.ndarray:
    """``int64[len(starts), length]`` module inputs of windows starting at ``starts``: entry ``[k, j]`` is input
    ``s_k + j``, i.e. ``x[s_k + j - 1]``, or ``start_byte`` for input 0. Every window must fit in ``x``
    (``s_k + length <= len(x)``)."""
    pos = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length, dtype=np.int64)[None] - 1
    if pos.size and pos.max() >= len(x):
        raise InputError(f"window inputs reach byte {int(pos.max())} of an input of {len(x)} bytes")
    out = np.asarray(x[np.maximum(pos, 0)], dtype=np.int64)
    out[pos < 0] = start_byte
    return out


__all__ = ["half_window", "window_inputs", "window_length", "window_plan", "window_start"]

"""Training data: byte windows over a corpus of any size, the two window samplers, the held-out split, and
the start-byte input shift for torch tensors.

A window at offset ``o`` of length ``L`` gives ``x = data[o : o + L]`` (inputs) and ``y = data[o + 1 : o + L + 1]``
(targets), both ``(B, L)`` int64: position ``t`` of ``x`` predicts position ``t`` of ``y``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError


def shift_right_torch(x: torch.Tensor, start_byte: int) -> torch.Tensor:
    """Torch twin of :func:`decepticons.predictor.shift_right`: ``out[..., 0] = start_byte`` and
    ``out[..., t] = x[..., t - 1]`` (int64, same leading axes), so input ``t`` holds the bytes ``x_<t``."""
    out = torch.empty(x.shape, dtype=torch.int64, device=x.device)
    if x.shape[-1] == 0:
        return out
    out[..., 0] = start_byte
    out[..., 1:] = x[..., :-1]
    return out


def split_train_valid(data: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(data[:cut], data[cut:])`` with the last ``fraction`` of the bytes held out (views, no copy)."""
    if not 0 < fraction < 1:
        raise InputError(f"valid fraction must be in (0, 1), got {fraction}")
    cut = int(round(len(data) * (1 - fraction)))
    return data[:cut], data[cut:]


class ByteDataset:
    """Training windows over a ``uint8`` array (a memory map of any size is read window by window).

    ``windows(offsets, L)`` returns ``(x, y)``, both ``(B, L)`` int64 with ``x[b] = data[o_b : o_b + L]`` and
    ``y[b] = data[o_b + 1 : o_b + L + 1]``.
    """

    def __init__(self, data: BytesLike, name: str = "training data") -> None:
        self.data = as_byte_array(data, name=name)
        self.name = name

    def __len__(self) -> int:
        return len(self.data)

    def windows(self, offsets: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(offsets, dtype=np.int64)[:, None] + np.arange(seq_len + 1, dtype=np.int64)[None]
        w = torch.from_numpy(np.asarray(self.data[idx], dtype=np.int64))
        return w[:, :-1], w[:, 1:]


class RandomWindows:
    """Detached mode: each step draws ``B`` uniform window offsets from a seeded generator.

    The generator's state is the data position: saving and restoring it replays the same batches.
    """

    def __init__(self, ds: ByteDataset, batch_size: int, seq_len: int, seed: int) -> None:
        if len(ds) < seq_len + 2:
            raise InputError(f"{ds.name} has {len(ds)} bytes; need more than seq_len + 1 = {seq_len + 1}")
        self.ds, self.B, self.L = ds, batch_size, seq_len
        self.gen = torch.Generator().manual_seed(seed)

    def next_offsets(self) -> tuple[np.ndarray, bool]:
        hi = len(self.ds) - self.L  # offsets 0 .. N - L - 1 inclusive
        return torch.randint(0, hi, (self.B,), generator=self.gen).numpy(), False

    def state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state(self, st: dict[str, Any]) -> None:
        self.gen.set_state(st["gen"])


class CarriedWindows:
    """Carried mode: ``B`` streams over contiguous segments of length ``S = N // B``; step ``k`` reads
    window ``k mod n`` of every stream (``n = (S - 1) // L``); ``reset`` is True when the streams restart."""

    def __init__(self, ds: ByteDataset, batch_size: int, seq_len: int) -> None:
        self.ds, self.B, self.L = ds, batch_size, seq_len
        self.seg = len(ds) // batch_size
        self.n_windows = (self.seg - 1) // seq_len
        if self.n_windows < 1:
            raise InputError(f"{ds.name} has {len(ds)} bytes: too short for {batch_size} carried streams "
                             f"of windows of {seq_len} bytes")
        self.k = 0

    def next_offsets(self) -> tuple[np.ndarray, bool]:
        w = self.k % self.n_windows
        self.k += 1
        return np.arange(self.B, dtype=np.int64) * self.seg + w * self.L, w == 0

    def state(self) -> dict[str, Any]:
        return {"k": self.k}

    def load_state(self, st: dict[str, Any]) -> None:
        self.k = int(st["k"])


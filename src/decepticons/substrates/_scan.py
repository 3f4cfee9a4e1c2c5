"""Exact parallel evaluation of the constant-coefficient linear recurrence ``h_t = a * h_{t-1} + u_t``.

``a: float64[d]`` (per channel, |a| <= 1), ``u: float64[T, d]``, ``h0: float64[d]``. Blocked doubling scan:
split time into blocks of ``L``; inside a block, ``log2 L`` doubling passes ``h[i] += a^s h[i-s]`` give the
block-local prefix; a sequential pass over blocks carries the state in; the carry enters each position as
``a^(i+1) h_block_start``. Only non-negative powers of ``a`` are ever formed, so it stays exact for any
gate in [0, 1] (no division by cumulative products). Cost O(T d log L) plus O(T/L) Python steps.
"""

from __future__ import annotations

import numpy as np


def linear_scan(a: np.ndarray, u: np.ndarray, h0: np.ndarray, block: int = 64) -> np.ndarray:
    """All states ``h[t] = a * h[t-1] + u[t]`` for t = 0..T-1 with ``h[-1] = h0``; dtype follows ``u``."""
    T, d = u.shape
    if T == 0:
        return u.copy()
    L = min(block, T)
    nb = -(-T // L)
    pad = nb * L - T
    h = np.concatenate([u, np.zeros((pad, d), dtype=u.dtype)]) if pad else u.copy()
    h = h.reshape(nb, L, d)
    s = 1
    apow = a.astype(u.dtype)
    while s < L:
        h[:, s:] += apow * h[:, :-s]
        apow = apow * apow
        s *= 2
    # carry between blocks: end state of block j = local_end_j + a^L * end_{j-1}
    powers = a.astype(u.dtype)[None, :] ** np.arange(1, L + 1, dtype=u.dtype)[:, None]  # [L, d]
    aL = powers[-1]
    carry = np.empty((nb, d), dtype=u.dtype)
    c = np.asarray(h0, dtype=u.dtype)
    local_end = h[:, -1, :]
    for j in range(nb):
        carry[j] = c
        c = local_end[j] + aL * c
    h += carry[:, None, :] * powers[None, :, :]
    return h.reshape(nb * L, d)[:T]


def reference_scan(a: np.ndarray, u: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """Sequential reference for :func:`linear_scan`."""
    out = np.empty_like(u)
    h = np.asarray(h0, dtype=u.dtype).copy()
    for t in range(len(u)):
        h = a * h + u[t]
        out[t] = h
    return out

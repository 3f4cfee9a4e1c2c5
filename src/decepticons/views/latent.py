"""Latent commitment: one latent per patch, held while the next patch is read.

Given latents ``z: float64[T, k]`` (row t = after byte t) and boundaries ``b: bool[T]`` (a patch ends after
byte t), with patch ``P`` = the bytes since the previous boundary::

    at a boundary after byte t:   c <- mean_{u in P} z_u               (the committed latent of the patch)
    c_t   = the latent committed at the latest boundary <= t           (zeros before the first)
    rho_t = z_t - c_t                                                  within-patch residual

so inside a patch the committed latent summarises the previous patch and the residual says how far the
byte-level latent has moved from it. Row t reads ``z_<=t`` and ``b_<=t`` only. The carried state is
``[partial sum (k), partial length, committed latent (k), patches committed]``, ``float64[2k + 2]``.
The batched path sums each patch with one ``np.add.reduceat``; :meth:`LatentCommitter.reference_commit` is
the byte-by-byte loop it must match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class CommitRecord:
    """``committed`` and ``residual``: ``float64[T, k]``; ``patches: float64[T]`` (patches committed so far)."""

    committed: np.ndarray
    residual: np.ndarray
    patches: np.ndarray


class LatentCommitter:
    """Commits the mean latent of each patch at its boundary (see the module docstring)."""

    def __init__(self, dim: int) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise InputError(f"latent dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)

    @property
    def state_size(self) -> int:
        return 2 * self.dim + 2

    def init_state(self) -> np.ndarray:
        return np.zeros(self.state_size)

    def _check(self, z: np.ndarray, boundary: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = np.asarray(z, dtype=np.float64)
        b = np.asarray(boundary)
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise InputError(f"latents must have shape [T, {self.dim}], got {z.shape}")
        if b.shape != (len(z),) or b.dtype != bool:
            raise InputError(f"boundary must be bool[{len(z)}], got {b.dtype}{list(b.shape)}")
        if np.asarray(state).shape != (self.state_size,):
            raise InputError(f"committer state must have shape ({self.state_size},), got {np.asarray(state).shape}")
        return z, b

    def commit(self, z: np.ndarray, boundary: np.ndarray, state: np.ndarray) -> tuple[CommitRecord, np.ndarray]:
        """Committed latents and residuals of every row, and the state after the last one."""
        z, b = self._check(z, boundary, state)
        k, T = self.dim, len(z)
        psum, plen, c0, n0 = state[:k], float(state[k]), state[k + 1:2 * k + 1], float(state[2 * k + 1])
        ends = np.flatnonzero(b)
        if len(ends):
            starts = np.concatenate([[0], ends[:-1] + 1])
            sums = np.add.reduceat(z[:ends[-1] + 1], starts, axis=0)   # patch i: rows starts[i] .. ends[i]
            sums[0] += psum
            lens = (ends - starts + 1).astype(np.float64)
            lens[0] += plen
            means = sums / lens[:, None]
            idx = np.searchsorted(ends, np.arange(T), side="right") - 1   # latest boundary <= t
            committed = np.where(idx[:, None] >= 0, means[np.maximum(idx, 0)], c0)
            patches = n0 + idx + 1.0
            tail = z[ends[-1] + 1:]
            new_sum, new_len, new_c = tail.sum(axis=0), float(len(tail)), means[-1]
        else:
            committed = np.broadcast_to(c0, (T, k)).copy()
            patches = np.full(T, n0)
            new_sum, new_len, new_c = psum + z.sum(axis=0), plen + T, c0
        end = np.concatenate([new_sum, [new_len], new_c, [n0 + len(ends)]])
        return CommitRecord(committed, z - committed, patches.astype(np.float64)), end

    def reference_commit(self, z: np.ndarray, boundary: np.ndarray,
                         state: np.ndarray) -> tuple[CommitRecord, np.ndarray]:
        """Byte-by-byte twin of :meth:`commit` (for the parity tests)."""
        z, b = self._check(z, boundary, state)
        k = self.dim
        psum, plen = state[:k].copy(), float(state[k])
        c, n = state[k + 1:2 * k + 1].copy(), float(state[2 * k + 1])
        com, pat = np.empty_like(z), np.empty(len(z))
        for t in range(len(z)):
            psum = psum + z[t]
            plen += 1.0
            if b[t]:
                c, n = psum / plen, n + 1.0
                psum, plen = np.zeros(k), 0.0
            com[t], pat[t] = c, n
        end = np.concatenate([psum, [plen], c, [n]])
        return CommitRecord(com, z - com, pat), end

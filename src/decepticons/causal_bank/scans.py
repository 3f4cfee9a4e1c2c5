"""Linear recurrence scans: ``h_t = a_t * h_{t-1} + b_t`` along the time axis (torch, differentiable).

Shapes: ``b`` is ``(B, T, N)``; ``a`` is ``(B, T, N)`` (input-dependent gates) or ``(N,)`` (one decay per
channel, the same at every step); ``h0`` is ``(B, N)`` or ``None`` (zeros). Returns ``h`` of shape
``(B, T, N)``; the final state is ``h[:, -1]``. Real (float32/float64) and complex (complex64/complex128:
damped rotations ``a = r e^{i w}``) dtypes are supported. Gates are used only through products, never
divided by, so results stay exact for any gate in [0, 1] (and any complex gate with ``|a| <= 1``).

Three implementations, same numbers:

``scan_reference``
    a Python loop over ``t``: obviously correct, slow; the yardstick for the others.

``scan_chunked``
    chunk-local products in pure torch: the sequence is cut into chunks of ``L`` steps; a loop
    over the ``L`` in-chunk positions runs every chunk at once (local states ``l_t`` and gate
    products ``p_t = a_{c0} ... a_t``), then a loop over chunks carries the state:
    ``h_t = l_t + p_t * h_{c0 - 1}``. ``L ~ sqrt(T)`` keeps both loops short; work is O(T).

``scan_compiled``
    a numba kernel for the forward pass and one for the reverse-time backward pass
    (``g_t = dL/dh_t + conj(a_{t+1}) g_{t+1}``; ``dL/db_t = g_t``; ``dL/da_t = g_t conj(h_{t-1})``),
    wrapped in a ``torch.autograd.Function``: one pass over memory each way, nothing stored
    but ``h``. Single-threaded on purpose: numba's OpenMP pool beside torch's made every torch
    op around it several times slower on 2 cores.

:func:`linear_scan` picks ``scan_compiled`` when numba is installed and the tensors are on the CPU, else
``scan_chunked``. ``scan_compiled`` costs the same per token at any ``T`` (one pass each way, nothing stored
but ``h``), while ``scan_chunked`` runs ``~2 sqrt(T)`` Python-level steps and keeps every chunk's local
states and gate products for the backward pass (timings: ``benchmarks/bench_scan.py``, section ``scan`` of
docs/benchmarks.md).
There is no GPU kernel; on a GPU ``scan_chunked`` runs as is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import InputError

METHODS = ("auto", "reference", "chunked", "compiled")


def _check(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> tuple[int, int, int]:
    if b.dim() != 3:
        raise InputError(f"scan input b must be (B, T, N), got shape {tuple(b.shape)}")
    B, T, N = b.shape
    if a.dim() == 1:
        if a.shape[0] != N:
            raise InputError(f"scan gate a of shape {tuple(a.shape)} does not match N={N}")
    elif tuple(a.shape) != (B, T, N):
        raise InputError(f"scan gate a must be (N,) or (B, T, N) = {(B, T, N)}, got {tuple(a.shape)}")
    if h0 is not None and tuple(h0.shape) != (B, N):
        raise InputError(f"scan initial state h0 must be (B, N) = {(B, N)}, got {tuple(h0.shape)}")
    return B, T, N


def _gate_at(a: torch.Tensor, t: int | slice) -> torch.Tensor:
    return a if a.dim() == 1 else a[:, t]


def scan_reference(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Sequential loop: ``h_t = a_t * h_{t-1} + b_t``; ``(B, T, N)`` out. The reference for the others."""
    B, T, N = _check(a, b, h0)
    h = torch.zeros(B, N, dtype=b.dtype, device=b.device) if h0 is None else h0
    bs = b.unbind(dim=1)  # unbind rather than b[:, t]: the backward of T slices would be O(T^2)
    gates = [a] * T if a.dim() == 1 else a.unbind(dim=1)
    out = []
    for t in range(T):
        h = gates[t] * h + bs[t]
        out.append(h)
    if not out:
        return b.new_zeros(B, 0, N)
    return torch.stack(out, dim=1)


def scan_chunked(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None,
                 chunk: int | None = None) -> torch.Tensor:
    """Exact chunked scan with chunk-local gate products (see the module docstring); autograd-friendly."""
    B, T, N = _check(a, b, h0)
    if T == 0:
        return b.new_zeros(B, 0, N)
    L = chunk or max(8, int(math.ceil(math.sqrt(T))))
    C = -(-T // L)
    pad = C * L - T
    bb = torch.nn.functional.pad(b, (0, 0, 0, pad)) if pad else b
    bs = bb.reshape(B, C, L, N).unbind(dim=2)  # unbind, not indexing: its backward is one stack, not L copies
    if a.dim() == 1:
        gates = None
    else:
        aa = torch.nn.functional.pad(a, (0, 0, 0, pad), value=1.0) if pad else a
        gates = aa.reshape(B, C, L, N).unbind(dim=2)
    # pass 1: every chunk from a zero state at once
    loc = bs[0]
    prod = a.expand(B, C, N) if gates is None else gates[0]
    locs, prods = [loc], [prod]
    for i in range(1, L):
        ai = a if gates is None else gates[i]
        loc = ai * loc + bs[i]
        prod = ai * prod
        locs.append(loc)
        prods.append(prod)
    local = torch.stack(locs, dim=2).unbind(dim=1)  # C x (B, L, N)
    prods_c = torch.stack(prods, dim=2).unbind(dim=1)
    # pass 2: carry the state across chunks
    h = torch.zeros(B, N, dtype=b.dtype, device=b.device) if h0 is None else h0
    outs = []
    for c in range(C):
        oc = local[c] + prods_c[c] * h[:, None]
        outs.append(oc)
        h = oc[:, -1]
    out = torch.stack(outs, dim=1).reshape(B, C * L, N)
    return out[:, :T] if pad else out


# ---------------------------------------------------------------------- compiled (numba)

_KERNELS: dict[str, Any] | None = None


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _kernels() -> dict[str, Any]:
    """Compile (once, cached on disk) the forward and backward numba kernels."""
    global _KERNELS
    if _KERNELS is not None:
        return _KERNELS
    import numba

    # Rows are walked through 1-D views and the running state lives in a small (N,) buffer: numba then
    # vectorises the inner loop over channels (about 6x faster than indexing the 3-D arrays directly).
    @numba.njit(cache=True)
    def fwd(a, b, h0, out):  # a: (B|1, T|1, N); b, out: (B, T, N); h0: (B, N)
        B, T, N = b.shape
        for i in range(B):
            ai = a[i if a.shape[0] > 1 else 0]
            bi = b[i]
            oi = out[i]
            h = h0[i].copy()
            for t in range(T):
                at = ai[t if ai.shape[0] > 1 else 0]
                bt = bi[t]
                ot = oi[t]
                for n in range(N):
                    h[n] = at[n] * h[n] + bt[n]
                    ot[n] = h[n]

    @numba.njit(cache=True)
    def bwd(a, h, h0, g, gb, ga, gh0):  # reverse-time scan of the gradient; conj() is a no-op on reals
        B, T, N = g.shape
        for i in range(B):
            ai = a[i if a.shape[0] > 1 else 0]
            gi = g[i]
            hi = h[i]
            gbi = gb[i]
            gai = ga[i]
            acc = np.zeros_like(h0[i])
            for t in range(T - 1, -1, -1):
                gt = gi[t]
                gbt = gbi[t]
                gat = gai[t]
                hp = hi[t - 1] if t > 0 else h0[i]
                if t < T - 1:
                    an = ai[t + 1 if ai.shape[0] > 1 else 0]
                    for n in range(N):
                        acc[n] = gt[n] + np.conj(an[n]) * acc[n]
                else:
                    for n in range(N):
                        acc[n] = gt[n]
                for n in range(N):
                    gbt[n] = acc[n]
                    gat[n] = acc[n] * np.conj(hp[n])
            a0 = ai[0]
            for n in range(N):
                gh0[i, n] = acc[n] * np.conj(a0[n])

    _KERNELS = {"fwd": fwd, "bwd": bwd}
    return _KERNELS


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class _CompiledScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        k = _kernels()
        a3 = a.reshape(1, 1, -1) if a.dim() == 1 else a
        out = torch.empty_like(b, memory_format=torch.contiguous_format)
        k["fwd"](_np(a3), _np(b), _np(h0), out.numpy())
        ctx.save_for_backward(a, out, h0)
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a, h, h0 = ctx.saved_tensors
        k = _kernels()
        a3 = a.reshape(1, 1, -1) if a.dim() == 1 else a
        gb = torch.empty_like(h)
        ga = torch.empty_like(h)
        gh0 = torch.empty_like(h0, memory_format=torch.contiguous_format)
        k["bwd"](_np(a3), _np(h), _np(h0), _np(g), gb.numpy(), ga.numpy(), gh0.numpy())
        ga_out = ga.sum(dim=(0, 1)) if a.dim() == 1 else ga
        return ga_out, gb, gh0


def scan_compiled(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """numba forward/backward kernels (CPU tensors only); see the module docstring."""
    B, T, N = _check(a, b, h0)
    if T == 0:
        return b.new_zeros(B, 0, N)
    if b.device.type != "cpu":
        raise InputError("scan_compiled runs on CPU tensors only; use scan_chunked on other devices")
    if h0 is None:
        h0 = torch.zeros(B, N, dtype=b.dtype)
    a = a.to(b.dtype)
    h0 = h0.to(b.dtype)
    return _CompiledScan.apply(a, b, h0)


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None,
                method: str = "auto") -> torch.Tensor:
    """``h_t = a_t * h_{t-1} + b_t`` by ``method`` (``auto``: compiled on CPU when numba exists, else chunked).

    A one-step input (``T == 1``) is computed directly, which is what streaming generation uses.
    """
    if method not in METHODS:
        raise InputError(f"unknown scan method {method!r}; choose one of {', '.join(METHODS)}")
    B, T, N = _check(a, b, h0)
    if T == 1 and method == "auto":
        a0 = _gate_at(a, 0)
        return (b[:, 0] if h0 is None else a0 * h0 + b[:, 0])[:, None]
    if method == "reference":
        return scan_reference(a, b, h0)
    if method == "compiled" or (method == "auto" and b.device.type == "cpu" and numba_available()):
        return scan_compiled(a, b, h0)
    return scan_chunked(a, b, h0)

"""Linear-recurrence scans in MLX: ``h_t = a_t * h_{t-1} + b_t`` along axis 1 (differentiable by MLX autograd).

Shapes: ``b`` is ``(B, T, N)``; ``a`` is ``(B, T, N)`` (input-dependent gates) or ``(N,)`` (one constant decay
per channel); ``h0`` is ``(B, N)``. Returns ``h`` ``(B, T, N)``. The complex variants carry real and imaginary
parts separately: ``z_t = g_t z_{t-1} + d_t`` with ``g = gr + i gi``, ``d = dr + i di``, i.e.
``z' = (gr zr - gi zi + dr, gr zi + gi zr + di)``.

Three implementations, same numbers within float32 rounding:

``scan_loop`` / ``scan_complex_loop``          a Python loop over ``t``: obviously correct, ``T`` small ops; the
                                               reference (and the one-byte step of streaming).
``scan_parallel`` / ``scan_complex_parallel``  Hillis-Steele prefix scan of the affine maps ``h -> a h + b``:
                                               ``ceil(log2 T)`` rounds; in round ``k`` (offset ``d = 2^k``) every
                                               position composes with the one ``d`` before it,
                                               ``(A_t, B_t) <- (A_t A_{t-d}, A_t B_{t-d} + B_t)`` (``t >= d``);
                                               afterwards ``B_t`` is the scan from a zero state and ``A_t`` the
                                               gate product ``a_1 ... a_t``, so ``h_t = B_t + A_t h0``. With a
                                               constant gate ``A_t = a^(t+1)`` needs no array: round ``k`` adds
                                               ``a^d * B_{t-d}``. ``O(T log T)`` work in ``log T`` whole-array
                                               operations instead of ``T`` tiny ones, which is what makes
                                               MLX (and ``mx.compile``) fast on it. Gates are only multiplied,
                                               never divided by, so any gate with ``|a| <= 1`` is exact.
``scan_chunked`` / ``scan_complex_chunked``    chunk-local products (as torch's ``scan_chunked``): ``T`` is cut
                                               into ``C`` chunks of ``L ~ sqrt(T)`` steps; a loop over the ``L``
                                               in-chunk positions runs every chunk at once (local states
                                               ``l_t`` and gate products ``p_t = a_{c0} ... a_t``), then a loop
                                               over chunks carries the state, ``h_t = l_t + p_t h_{c0 - 1}``:
                                               ``O(T)`` work in ``~2 sqrt(T)`` operations; the model's default
                                               (timings of all three: ``benchmarks/bench_mlx.py``, section
                                               ``mlx`` of docs/benchmarks.md).
"""

from __future__ import annotations

import math

import mlx.core as mx


def scan_loop(a: mx.array, b: mx.array, h: mx.array) -> mx.array:
    """Reference: ``h_t = a_t * h_{t-1} + b_t`` by a loop over ``t``."""
    out = []
    for t in range(b.shape[1]):
        h = (a if a.ndim == 1 else a[:, t]) * h + b[:, t]
        out.append(h)
    return mx.stack(out, axis=1)


def scan_complex_loop(gr: mx.array, gi: mx.array, dr: mx.array, di: mx.array,
                      zr: mx.array, zi: mx.array) -> tuple[mx.array, mx.array]:
    """Reference complex scan in real arithmetic; gates ``(N,)`` or ``(B, T, N)``."""
    outr, outi = [], []
    for t in range(dr.shape[1]):
        ar = gr if gr.ndim == 1 else gr[:, t]
        ai = gi if gi.ndim == 1 else gi[:, t]
        zr, zi = ar * zr - ai * zi + dr[:, t], ar * zi + ai * zr + di[:, t]
        outr.append(zr)
        outi.append(zi)
    return mx.stack(outr, axis=1), mx.stack(outi, axis=1)


def _shift(x: mx.array, d: int) -> mx.array:
    """``x`` moved ``d`` steps later along axis 1 (the first ``d`` rows are zeros)."""
    pad = mx.zeros((x.shape[0], d, *x.shape[2:]), dtype=x.dtype)
    return mx.concatenate([pad, x[:, :-d]], axis=1)


def _shift_gate(x: mx.array, d: int) -> mx.array:
    """``x`` moved ``d`` steps later along axis 1 with identity gates (ones) in front."""
    pad = mx.ones((x.shape[0], d, *x.shape[2:]), dtype=x.dtype)
    return mx.concatenate([pad, x[:, :-d]], axis=1)


def scan_parallel(a: mx.array, b: mx.array, h0: mx.array) -> mx.array:
    """Hillis-Steele scan (see the module docstring); same result as :func:`scan_loop`."""
    T = b.shape[1]
    if T == 0:
        return b
    acc = b
    if a.ndim == 1:
        d, ad = 1, a
        while d < T:
            acc = acc + ad * _shift(acc, d)
            ad = ad * ad
            d *= 2
        powers = mx.power(a[None, :], mx.arange(1, T + 1, dtype=a.dtype)[:, None])  # (T, N): a^(t+1)
        return acc + powers[None] * h0[:, None]
    A, d = a, 1
    while d < T:
        acc = acc + A * _shift(acc, d)
        A = A * _shift_gate(A, d)
        d *= 2
    return acc + A * h0[:, None]


def scan_complex_parallel(gr: mx.array, gi: mx.array, dr: mx.array, di: mx.array,
                          zr: mx.array, zi: mx.array) -> tuple[mx.array, mx.array]:
    """Hillis-Steele complex scan; same result as :func:`scan_complex_loop`."""
    T = dr.shape[1]
    if T == 0:
        return dr, di
    B = dr.shape[0]
    if gr.ndim == 1:
        gr = mx.broadcast_to(gr, (B, T, gr.shape[0]))
        gi = mx.broadcast_to(gi, (B, T, gi.shape[0]))
    Ar, Ai, Br, Bi, d = gr, gi, dr, di, 1
    while d < T:
        pr, pi = _shift(Br, d), _shift(Bi, d)
        Br, Bi = Br + Ar * pr - Ai * pi, Bi + Ar * pi + Ai * pr
        qr, qi = _shift_gate(Ar, d), _shift(Ai, d)  # identity gate 1 + 0i in front
        Ar, Ai = Ar * qr - Ai * qi, Ar * qi + Ai * qr
        d *= 2
    z0r, z0i = zr[:, None], zi[:, None]
    return Br + Ar * z0r - Ai * z0i, Bi + Ar * z0i + Ai * z0r


def _chunks(T: int) -> tuple[int, int, int]:
    """``(L, C, pad)``: chunk length ``max(8, ceil(sqrt T))``, chunk count and padding to ``C L`` steps."""
    L = max(8, int(math.ceil(math.sqrt(T))))
    C = -(-T // L)
    return L, C, C * L - T


def _chunked(x: mx.array, C: int, L: int, pad: int, fill: float) -> mx.array:
    """``(B, T, N)`` padded with ``fill`` to ``(B, C, L, N)``."""
    if pad:
        x = mx.concatenate([x, mx.full((x.shape[0], pad, x.shape[2]), fill, dtype=x.dtype)], axis=1)
    return mx.reshape(x, (x.shape[0], C, L, x.shape[2]))


def scan_chunked(a: mx.array, b: mx.array, h0: mx.array) -> mx.array:
    """Chunk-local products (see the module docstring); same result as :func:`scan_loop`."""
    B, T, N = b.shape
    if T == 0:
        return b
    L, C, pad = _chunks(T)
    bb = _chunked(b, C, L, pad, 0.0)
    aa = None if a.ndim == 1 else _chunked(a, C, L, pad, 1.0)
    loc = bb[:, :, 0]
    prod = mx.broadcast_to(a, (B, C, N)) if aa is None else aa[:, :, 0]
    locs, prods = [loc], [prod]
    for i in range(1, L):
        ai = a if aa is None else aa[:, :, i]
        loc = ai * loc + bb[:, :, i]
        prod = ai * prod
        locs.append(loc)
        prods.append(prod)
    local, gain = mx.stack(locs, axis=2), mx.stack(prods, axis=2)  # (B, C, L, N)
    h, outs = h0, []
    for c in range(C):
        oc = local[:, c] + gain[:, c] * h[:, None]
        outs.append(oc)
        h = oc[:, -1]
    out = mx.concatenate(outs, axis=1)
    return out[:, :T] if pad else out


def scan_complex_chunked(gr: mx.array, gi: mx.array, dr: mx.array, di: mx.array,
                         zr: mx.array, zi: mx.array) -> tuple[mx.array, mx.array]:
    """Chunk-local complex products; same result as :func:`scan_complex_loop`."""
    B, T, N = dr.shape
    if T == 0:
        return dr, di
    L, C, pad = _chunks(T)
    br, bi = _chunked(dr, C, L, pad, 0.0), _chunked(di, C, L, pad, 0.0)
    const = gr.ndim == 1
    ar = None if const else _chunked(gr, C, L, pad, 1.0)
    ai = None if const else _chunked(gi, C, L, pad, 0.0)

    def gate(i: int) -> tuple[mx.array, mx.array]:
        return (gr, gi) if const else (ar[:, :, i], ai[:, :, i])  # type: ignore[index]

    lr, li = br[:, :, 0], bi[:, :, 0]
    g0r, g0i = gate(0)
    pr, pi = mx.broadcast_to(g0r, (B, C, N)), mx.broadcast_to(g0i, (B, C, N))
    lrs, lis, prs, pis = [lr], [li], [pr], [pi]
    for i in range(1, L):
        cr, ci = gate(i)
        lr, li = cr * lr - ci * li + br[:, :, i], cr * li + ci * lr + bi[:, :, i]
        pr, pi = cr * pr - ci * pi, cr * pi + ci * pr
        lrs.append(lr)
        lis.append(li)
        prs.append(pr)
        pis.append(pi)
    Lr, Li = mx.stack(lrs, axis=2), mx.stack(lis, axis=2)
    Pr, Pi = mx.stack(prs, axis=2), mx.stack(pis, axis=2)
    hr, hi, outr, outi = zr, zi, [], []
    for c in range(C):
        qr, qi = hr[:, None], hi[:, None]
        orr = Lr[:, c] + Pr[:, c] * qr - Pi[:, c] * qi
        oi = Li[:, c] + Pr[:, c] * qi + Pi[:, c] * qr
        outr.append(orr)
        outi.append(oi)
        hr, hi = orr[:, -1], oi[:, -1]
    rr, ii = mx.concatenate(outr, axis=1), mx.concatenate(outi, axis=1)
    return (rr[:, :T], ii[:, :T]) if pad else (rr, ii)


__all__ = ["scan_chunked", "scan_complex_chunked", "scan_complex_loop", "scan_complex_parallel", "scan_loop",
           "scan_parallel"]

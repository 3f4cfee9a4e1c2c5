"""Linear recurrence scans: fast paths equal the sequential reference in outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from decepticons.causal_bank import scans
from decepticons.errors import InputError

FAST = ["chunked"] + (["compiled"] if scans.numba_available() else [])


def _fast(method):
    return scans.scan_chunked if method == "chunked" else scans.scan_compiled


def _gates(shape, dtype, lo, hi, gen):
    r = torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo
    if dtype.is_complex:
        theta = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 * np.pi
        return torch.polar(r, theta).to(dtype)
    return r.to(dtype)


def _run(fn, a, b, h0, w):
    a = a.detach().clone().requires_grad_()
    b = b.detach().clone().requires_grad_()
    h0 = h0.detach().clone().requires_grad_()
    out = fn(a, b, h0)
    loss = (out * w.conj()).real.sum()
    return (out.detach(), *torch.autograd.grad(loss, [a, b, h0]))


@pytest.mark.parametrize("method", FAST)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.complex128])
@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 7, 5), (3, 33, 4), (2, 64, 70)])
@pytest.mark.parametrize("shared", [False, True])
def test_parity_outputs_and_gradients(method, dtype, shape, shared):
    gen = torch.Generator().manual_seed(hash((method, str(dtype), shape, shared)) % 2**31)
    B, T, N = shape
    a = _gates((N,) if shared else shape, dtype, 0.01, 0.999, gen)
    b = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    h0 = torch.randn((B, N), generator=gen, dtype=torch.float64).to(dtype)
    w = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    ref = _run(scans.scan_reference, a, b, h0, w)
    got = _run(_fast(method), a, b, h0, w)
    tol = 1e-4 if dtype in (torch.float32, torch.complex64) else 1e-10
    for name, x, y in zip(["h", "da", "db", "dh0"], got, ref, strict=True):
        scale = max(1.0, float(y.abs().max()))
        assert float((x - y).abs().max()) <= tol * scale, name


@pytest.mark.parametrize("method", FAST)
@pytest.mark.parametrize("gate", [0.01, 0.05, 0.1, 0.3, 0.5])
def test_small_gates_exact(method, gate):
    """Small gates: the product of gates underflows, so any method dividing by it would blow up."""
    gen = torch.Generator().manual_seed(7)
    B, T, N = 2, 64, 6
    a = torch.full((B, T, N), gate, dtype=torch.float32)
    a = a * (0.5 + torch.rand(B, T, N, generator=gen))  # vary around the target gate
    b = torch.randn(B, T, N, generator=gen)
    ref = scans.scan_reference(a.double(), b.double())
    got = _fast(method)(a, b)
    rel = ((got.double() - ref).abs() / (ref.abs() + 1e-6)).max()
    assert float(rel) < 1e-4
    # closed form for a constant gate: h_t = sum_j gate^(t-j) b_j
    c = torch.full((N,), gate, dtype=torch.float64)
    ref_c = scans.scan_reference(c, b.double())
    k = gate ** torch.arange(T, dtype=torch.float64)
    direct = torch.stack([(k[:t + 1].flip(0)[None, :, None] * b.double()[:, :t + 1]).sum(1) for t in range(T)], 1)
    np.testing.assert_allclose(ref_c.numpy(), direct.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_fast(method)(c.float(), b).numpy(), direct.numpy(), rtol=1e-4, atol=1e-6)


def test_chunked_any_chunk_length():
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(2, 50, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(2, 50, 3, generator=gen, dtype=torch.float64)
    ref = scans.scan_reference(a, b)
    for L in [1, 3, 7, 50, 64]:
        torch.testing.assert_close(scans.scan_chunked(a, b, chunk=L), ref)


@pytest.mark.parametrize("method", ["auto", "reference", *FAST])
def test_dispatch_and_single_step(method):
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(3, 1, 4, generator=gen)
    b = torch.randn(3, 1, 4, generator=gen)
    h0 = torch.randn(3, 4, generator=gen)
    torch.testing.assert_close(scans.linear_scan(a, b, h0, method=method)[:, 0], a[:, 0] * h0 + b[:, 0])


def test_zero_length_and_bad_shapes():
    b = torch.zeros(2, 0, 3)
    for method in ["reference", *FAST]:
        assert scans.linear_scan(torch.ones(3), b, method=method).shape == (2, 0, 3)
    with pytest.raises(InputError, match="B, T, N"):
        scans.linear_scan(torch.ones(3), torch.zeros(3, 4))
    with pytest.raises(InputError, match="gate"):
        scans.linear_scan(torch.ones(5), torch.zeros(2, 4, 3))
    with pytest.raises(InputError, match="h0"):
        scans.linear_scan(torch.ones(3), torch.zeros(2, 4, 3), torch.zeros(3, 3))
    with pytest.raises(InputError, match="method"):
        scans.linear_scan(torch.ones(3), torch.zeros(2, 4, 3), method="magic")

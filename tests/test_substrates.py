"""Substrates: batched scan equals the step-by-step reference, causality, determinism."""

import numpy as np
import pytest

from decepticons.errors import InputError
from decepticons.substrates import SUBSTRATES, make_substrate
from decepticons.substrates._scan import linear_scan, reference_scan

KINDS = sorted(SUBSTRATES)


@pytest.mark.parametrize("kind", KINDS)
def test_scan_matches_step_reference(kind):
    sub = make_substrate(kind, seed=3)
    x = np.random.default_rng(0).integers(0, 256, 200).astype(np.uint8)
    s0 = np.random.default_rng(1).standard_normal(sub.state_size) * 0.1
    h, end = sub.states(x, s0)
    ref = sub.reference_states(x, s0)
    assert h.shape == (200, sub.state_size)
    np.testing.assert_allclose(h, ref, atol=1e-10)
    np.testing.assert_array_equal(end, h[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_causal(kind):
    sub = make_substrate(kind, seed=1)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, 120).astype(np.uint8)
    t = 57
    y = x.copy()
    y[t + 1:] = rng.integers(0, 256, len(x) - t - 1)
    hx, _ = sub.states(x)
    hy, _ = sub.states(y)
    np.testing.assert_array_equal(hx[: t + 1], hy[: t + 1])
    assert not np.allclose(hx[t + 1:], hy[t + 1:])


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_from_seed_and_chunkable(kind):
    x = np.random.default_rng(5).integers(0, 256, 90).astype(np.uint8)
    a = make_substrate(kind, seed=7).states(x)[0]
    b = make_substrate(kind, seed=7).states(x)[0]
    np.testing.assert_array_equal(a, b)
    c = make_substrate(kind, seed=8).states(x)[0]
    assert not np.array_equal(a, c)
    sub = make_substrate(kind, seed=7)
    h1, s1 = sub.states(x[:40])
    h2, _ = sub.states(x[40:], s1)
    np.testing.assert_allclose(np.concatenate([h1, h2]), a, atol=1e-12)


@pytest.mark.parametrize("gate", [0.0, 0.01, 0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("T", [1, 7, 64, 65, 300])
def test_linear_scan_exact_for_small_gates(gate, T):
    rng = np.random.default_rng(0)
    a = np.full(5, gate)
    a[0] = 0.3
    u = rng.standard_normal((T, 5))
    h0 = rng.standard_normal(5)
    np.testing.assert_allclose(linear_scan(a, u, h0, block=16), reference_scan(a, u, h0), rtol=1e-12, atol=1e-12)


def test_complex_scan():
    rng = np.random.default_rng(1)
    a = 0.8 * np.exp(1j * rng.uniform(0, np.pi, 4))
    u = rng.standard_normal((100, 4)) + 1j * rng.standard_normal((100, 4))
    h0 = np.zeros(4, complex)
    np.testing.assert_allclose(linear_scan(a, u, h0), reference_scan(a, u, h0), atol=1e-12)


def test_bad_substrate_options():
    with pytest.raises(InputError, match="unknown substrate"):
        make_substrate("nope")
    with pytest.raises(InputError, match="no option"):
        make_substrate("delay", width=3)

"""Probability diagnostics: entropy, top-1 mass, agreement between two sources."""

from __future__ import annotations

import numpy as np
import pytest

from decepticons.errors import InputError
from decepticons.views.diagnostics import agreement, entropy, summarize, top1_mass


def _onehot(idx, eps=0.0):
    p = np.full((len(idx), 256), eps)
    p[np.arange(len(idx)), idx] = 1.0 - eps * 255
    with np.errstate(divide="ignore"):
        return np.log(p)


def test_entropy_and_top1():
    uniform = np.full((3, 256), -np.log(256))
    assert np.allclose(entropy(uniform), 8.0)
    assert np.allclose(top1_mass(uniform), 1 / 256)
    hard = _onehot([1, 2, 3])
    assert np.allclose(entropy(hard), 0.0)
    assert np.allclose(top1_mass(hard), 1.0)
    rng = np.random.default_rng(0)
    p = rng.random((4, 256))
    p /= p.sum(axis=1, keepdims=True)
    assert np.allclose(entropy(np.log(p)), -(p * np.log2(p)).sum(axis=1))


def test_agreement():
    a = _onehot([1, 2, 3], eps=1e-9)
    same = agreement(a, a)
    assert same["argmax_agreement"] == 1.0
    assert same["mean_total_variation"] == pytest.approx(0.0, abs=1e-12)
    assert same["mean_js_bits"] == pytest.approx(0.0, abs=1e-9)
    b = _onehot([4, 5, 6])
    diff = agreement(_onehot([1, 2, 3]), b)
    assert diff["argmax_agreement"] == 0.0
    assert diff["mean_total_variation"] == pytest.approx(1.0)
    assert diff["mean_js_bits"] == pytest.approx(1.0)
    assert diff["js_bits"].shape == (3,)


def test_summarize_and_errors():
    lp = _onehot([7, 7], eps=1e-6)
    s = summarize(lp, np.array([7, 8], dtype=np.uint8))
    assert s["top1_accuracy"] == 0.5
    assert s["bits_per_byte"] == pytest.approx((-np.log2(1 - 255e-6) - np.log2(1e-6)) / 2)
    with pytest.raises(InputError):
        entropy(np.zeros((2, 10)))
    with pytest.raises(InputError):
        agreement(np.zeros((2, 256)), np.zeros((3, 256)))
    with pytest.raises(InputError):
        summarize(lp, b"x")


def test_top_k_mass_margin_and_shared_mass():
    from decepticons.views.diagnostics import (
        overlap,
        probability_diagnostics,
        shared_top_k_mass,
        top2_margin,
        top_k_mass,
    )

    p = np.full((2, 256), 0.1 / 252)
    p[:, :4] = [[0.5, 0.2, 0.1, 0.1], [0.3, 0.3, 0.2, 0.1]]
    q = np.full((2, 256), 0.1 / 252)
    q[:, [0, 5, 6, 7]] = 0.225
    lp, lq = np.log(p), np.log(q)
    np.testing.assert_allclose(top_k_mass(lp, 2), [0.7, 0.6])
    np.testing.assert_allclose(top_k_mass(lp, 256), [1.0, 1.0])
    np.testing.assert_allclose(top2_margin(lp), [0.3, 0.0], atol=1e-12)
    # the only byte both rank in their top 4 is byte 0
    np.testing.assert_allclose(shared_top_k_mass(lp, lq, 4), [0.5 * (0.5 + 0.225), 0.5 * (0.3 + 0.225)])
    np.testing.assert_allclose(overlap(lp, lp), 1.0)
    d = probability_diagnostics(lp, lq, top_k=2)
    assert set(d.as_dict()) == {"entropy", "peak", "top_k_mass", "top2_margin", "overlap", "top1_agreement",
                                "shared_top_k_mass"}
    np.testing.assert_array_equal(d.top1_agreement, [1.0, 1.0])
    assert set(probability_diagnostics(lp).as_dict()) == {"entropy", "peak", "top_k_mass", "top2_margin"}
    for call in (lambda: top_k_mass(lp, 0), lambda: top_k_mass(lp, 2.5), lambda: shared_top_k_mass(lp, lq[:1]),
                 lambda: probability_diagnostics(lp[:, :5])):
        with pytest.raises(InputError):
            call()

"""Frozen-readout expert: configuration errors, routing, use as a mixer expert (the contract harness checks
its causality, parity, chunking and persistence through its TINY / VARIANTS rows)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.readouts.expert import FrozenReadoutConfig, FrozenReadoutExpert
from decepticons.registry import load_model, model_class


@cache
def text() -> tuple[np.ndarray, np.ndarray]:
    train, valid = embedded_corpus()
    return np.asarray(train[:30000]), np.asarray(valid[:2000])


def test_registered():
    assert model_class("frozen-readout") is FrozenReadoutExpert


@pytest.mark.parametrize("options, pattern", [
    ({"bogus": 1}, "unknown frozen-readout option"),
    ({"view": "hierarchical"}, "hierarchical substrate"),
    ({"routes": ["nope"]}, "routes"),
    ({"ridge_stride": 0}, "ridge_stride"),
    ({"route_half_life": 0.0}, "route_half_life"),
])
def test_bad_configurations(options, pattern):
    with pytest.raises(InputError, match=pattern):
        FrozenReadoutExpert(**options)


def test_unfitted_and_bad_fits():
    m = FrozenReadoutExpert()
    with pytest.raises(InputError, match="not been fitted"):
        m.log_probs(b"abc")
    with pytest.raises(InputError, match="not been fitted"):
        m.stream()
    with pytest.raises(InputError, match="2 training bytes"):
        m.fit(b"a")
    with pytest.raises(InputError, match="workers"):
        m.fit(b"abcdef", workers=0)


def test_routed_expert_is_no_worse_than_its_best_route_on_the_holdout():
    train, valid = text()
    m = FrozenReadoutExpert(routes=["hierarchical"])
    r = m.fit(train, valid=valid)
    d = r.details
    assert d["routed_holdout_bits_per_byte"] <= min(d["route0_holdout_bits_per_byte"],
                                                    d["route1_holdout_bits_per_byte"]) + 0.02
    assert len(m.router.theta) == 2 and r.valid_bits_per_byte < 6.0
    assert FrozenReadoutConfig(**{**m.config_dict(), "routes": tuple(m.config.routes),
                                  "ridge_lambdas": tuple(m.config.ridge_lambdas)}) == m.config


def test_as_a_mixer_expert(tmp_path):
    train, valid = text()
    mixer = model_class("mixer")(orders=3, match_min=4, experts=[FrozenReadoutExpert(chunk_size=4096)])
    mixer.fit(train[:8000])
    lp = mixer.log_probs(valid[:300])
    assert lp.shape == (300, 256) and np.all(np.isfinite(lp))
    mixer.save(tmp_path / "mix.safetensors")
    back = load_model(tmp_path / "mix.safetensors")
    np.testing.assert_array_equal(back.log_probs(valid[:300]), lp)

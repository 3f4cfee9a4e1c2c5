"""CausalBankConfig validation, variants, scaling and deterministic substrate construction."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from decepticons.causal_bank import (
    READOUT_KINDS,
    SUBSTRATE_MODES,
    VARIANTS,
    CausalBankConfig,
    build_substrate,
    decay_from_half_life,
    describe_family,
    half_lives,
    input_projection,
)
from decepticons.errors import InputError


def test_defaults_valid_and_json_roundtrip():
    c = CausalBankConfig()
    d = json.loads(json.dumps(c.to_dict()))
    assert CausalBankConfig(**d) == c
    assert c.num_features == c.local_window * c.embed_dim + c.num_modes + 2 * c.num_oscillatory + c.state_dim


@pytest.mark.parametrize("kw,match", [
    (dict(substrate_mode="nope"), "substrate_mode"),
    (dict(readout="mlp"), "readout"),
    (dict(embed_dim=0), "embed_dim"),
    (dict(embed_dim=2.5), "embed_dim"),
    (dict(num_modes=-1), "num_modes"),
    (dict(half_life_min=0.0), "half_life_min"),
    (dict(half_life_min=10.0, half_life_max=5.0), "half_life_max"),
    (dict(period_min=1.0), "period_min"),
    (dict(decay_schedule="cubic"), "decay_schedule"),
    (dict(input_projection="dense"), "input_projection"),
    (dict(num_modes=0, num_oscillatory=0, state_dim=0), "at least one recurrent channel"),
    (dict(readout_bands=0), "readout_bands"),
    (dict(readout_bands=10_000), "readout_bands"),
    (dict(expert_top_k=5, num_experts=4), "expert_top_k"),
    (dict(readout="routed", readout_hidden=2, num_experts=4), "routed"),
    (dict(balance_weight=float("nan")), "balance_weight"),
    (dict(state_dim=True), "state_dim"),
    (dict(input_hidden=8, local_window=0), "local_window"),
])
def test_bad_values_raise_input_error(kw, match):
    with pytest.raises(InputError, match=match):
        CausalBankConfig(**kw)


def test_variants_and_scaling():
    sizes = [CausalBankConfig.variant(v).num_features for v in VARIANTS]
    assert sizes == sorted(sizes)
    assert CausalBankConfig.variant("default") == CausalBankConfig()
    assert CausalBankConfig.variant("small", substrate_mode="frozen").substrate_mode == "frozen"
    with pytest.raises(InputError, match="variant"):
        CausalBankConfig.variant("huge")
    c = CausalBankConfig().scaled(2.0)
    assert c.num_modes == 2 * CausalBankConfig().num_modes and c.readout_hidden == 2 * CausalBankConfig().readout_hidden
    assert CausalBankConfig().scaled(0.01).num_modes >= 1
    with pytest.raises(InputError):
        CausalBankConfig().scaled(0)


def test_substrate_is_deterministic_and_seed_dependent():
    c = CausalBankConfig.variant("small")
    s1, s2 = build_substrate(c), build_substrate(c)
    for f in dataclasses.fields(s1):
        np.testing.assert_array_equal(getattr(s1, f.name), getattr(s2, f.name))
    s3 = build_substrate(dataclasses.replace(c, seed=1))
    assert not np.array_equal(s1.input_proj, s3.input_proj)
    np.testing.assert_array_equal(s1.decays, s3.decays)


def test_substrate_shapes_and_ranges():
    c = CausalBankConfig(num_modes=40, num_oscillatory=6, state_dim=5, embed_dim=7, input_hidden=0)
    s = build_substrate(c)
    assert s.decays.shape == (40,) and np.all((s.decays > 0) & (s.decays < 1))
    assert np.all(np.diff(s.decays) > 0), "modes are ordered fast to slow"
    assert s.osc_radius.shape == (6,) and np.all((s.osc_radius > 0) & (s.osc_radius < 1))
    assert np.all((s.osc_angle > 0) & (s.osc_angle <= np.pi))
    assert s.input_proj.shape == (7, 40 + 12)
    assert s.sel_log_rate.shape == (5,)
    assert build_substrate(CausalBankConfig(input_hidden=24)).input_proj.shape[0] == 24


def test_half_life_schedule():
    h = half_lives(5, 1.0, 16.0, "log")
    np.testing.assert_allclose(h, [1, 2, 4, 8, 16])
    np.testing.assert_allclose(half_lives(3, 1.0, 3.0, "linear"), [1, 2, 3])
    a = decay_from_half_life(h)
    np.testing.assert_allclose(a ** h, 0.5)


@pytest.mark.parametrize("scheme", ["orthogonal", "gaussian", "sparse"])
def test_input_projection_norms(scheme):
    w = input_projection(np.random.default_rng(0), 16, 256, scheme, 1.0)
    assert w.shape == (16, 256)
    norms = np.linalg.norm(w, axis=0)
    assert 0.5 < norms.mean() < 1.5
    if scheme == "orthogonal":
        np.testing.assert_allclose(w[:, :16].T @ w[:, :16], np.eye(16), atol=1e-12)


def test_bands_cover_features():
    c = CausalBankConfig(readout_bands=5)
    assert sum(c.band_sizes()) == c.num_features and len(c.band_sizes()) == 5


def test_family_metadata():
    fam = describe_family()
    assert set(fam["substrate_modes"]) == set(SUBSTRATE_MODES)
    assert fam["readouts"] == list(READOUT_KINDS)
    assert not fam["substrate_modes"]["frozen"]["learns_decays"]
    assert fam["substrate_modes"]["gated_retention"]["input_dependent_gates"]


def test_config_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, decepticons.causal_bank; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

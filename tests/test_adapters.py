"""The causal predictive adapter: a configuration of components mixed by the context mixer, fitted, saved,
loaded and scored like any model (its contract rows are in tests/contract.py); bad configurations and
non-causal components are InputErrors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decepticons.adapters import CausalAdapterConfig, CausalPredictiveAdapter, OracleAnalysisAdapter
from decepticons.cli import main
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.registry import load_model, model_class

TRAIN = np.asarray(embedded_corpus()[0][:8192]).copy()
VALID = np.asarray(embedded_corpus()[1][:2048]).copy()
COMPONENTS = [{"kind": "exact-context", "config": {"order": 2}}]
MIXER = {"orders": 3, "match_min": 4}


def test_the_adapter_is_the_mixer_it_describes():
    """Same numbers as the mixer built by hand from the same components and options."""
    adapter = CausalPredictiveAdapter(components=COMPONENTS, mixer=MIXER)
    adapter.fit(TRAIN)
    by_hand = model_class("mixer")(experts=[model_class("exact-context")(order=2)], **MIXER)
    by_hand.fit(TRAIN)
    assert np.array_equal(adapter.log_probs(VALID), by_hand.log_probs(VALID))
    assert adapter.score(VALID).total_bits == by_hand.score(VALID).total_bits
    assert [c.name for c in adapter.components] == ["exact-context"]


def test_a_component_changes_predictions_and_is_saved(tmp_path):
    plain = CausalPredictiveAdapter(mixer=MIXER)
    plain.fit(TRAIN)
    mixed = CausalPredictiveAdapter(components=COMPONENTS, mixer=MIXER)
    mixed.fit(TRAIN)
    assert not np.array_equal(plain.log_probs(VALID), mixed.log_probs(VALID))
    mixed.save(tmp_path / "a.safetensors")
    back = load_model(tmp_path / "a.safetensors")
    assert isinstance(back, CausalPredictiveAdapter) and back.config.components == mixed.config.components
    assert np.array_equal(back.log_probs(VALID), mixed.log_probs(VALID))


def test_fit_on_the_command_line(tmp_path, capsys):
    (tmp_path / "train.txt").write_bytes(TRAIN.tobytes())
    (tmp_path / "valid.txt").write_bytes(VALID.tobytes())
    path = tmp_path / "adapter.safetensors"
    rc = main(["fit", "--model", "causal-adapter", "--input", str(tmp_path / "train.txt"), "--valid",
               str(tmp_path / "valid.txt"), "--config", "components=" + json.dumps(COMPONENTS), "--config",
               "mixer=" + json.dumps(MIXER), "--save", str(path), "--json"])
    assert rc == 0
    fit = json.loads(capsys.readouterr().out)["fit"]
    assert fit["model"] == "causal-adapter" and fit["valid_bits_per_byte"] < 8
    assert main(["score", "--load", str(path), "--input", str(tmp_path / "valid.txt"), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)["score"]
    assert score["bits_per_byte"] == pytest.approx(fit["valid_bits_per_byte"], abs=1e-12)


@pytest.mark.parametrize("options, match", [
    ({"components": [{"config": {}}]}, "is not a component"),
    ({"components": [{"kind": "ngram", "options": {}}]}, "unknown key"),
    ({"components": [{"kind": "ngram", "config": 3}]}, "must be a mapping"),
    ({"components": [{"kind": "no-such-model"}]}, "unknown model"),
    ({"components": [{"kind": "ngram", "config": {"orders": 0}}]}, "orders"),
    ({"components": [{"kind": "ngram", "config": {"colour": 1}}]}, "colour"),
    ({"mixer": {"lr": -1.0}}, "lr"),
    ({"mixer": {"experts": []}}, "components"),
    ({"mixer": 3}, "mixer"),
    ({"colour": 1}, "unknown CausalAdapterConfig option"),
])
def test_bad_configurations_are_input_errors(options, match):
    with pytest.raises(InputError, match=match):
        CausalPredictiveAdapter(**options)


def test_a_non_causal_component_is_refused():
    with pytest.raises(InputError, match="non-causal"):
        CausalPredictiveAdapter(components=[{"kind": "oracle"}])
    oracle = OracleAnalysisAdapter(forward={"kind": "ngram", "config": {"orders": 2}})
    with pytest.raises(InputError, match="a mixer expert needs a causal model"):
        model_class("mixer")(experts=[oracle])


def test_config_round_trips_by_field_name():
    cfg = CausalAdapterConfig(components=COMPONENTS, mixer=MIXER)
    assert CausalAdapterConfig.from_dict(cfg.to_dict()) == cfg

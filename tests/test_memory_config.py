"""Options of the memories and the mixer: validated on construction (InputError naming field, value and
range), defaults and saved configurations unchanged, the same errors through ``--config key=value``."""

from __future__ import annotations

import math

import pytest

from decepticons.cli import main
from decepticons.errors import InputError
from decepticons.memory import (
    BackoffConfig,
    BackoffPredictor,
    ExactContextPredictor,
    NGramConfig,
    NGramPredictor,
    OnlineNGramPredictor,
)
from decepticons.mixer import MixerConfig, MixerPredictor

MODELS = [NGramPredictor, BackoffPredictor, OnlineNGramPredictor, MixerPredictor]


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
@pytest.mark.parametrize("option, value, words", [
    ("discount", math.nan, ["discount", "nan", "finite"]),
    ("discount", 1.0, ["discount", "1.0", "0 <= discount < 1"]),
    ("discount", -0.1, ["discount", "-0.1", "0 <= discount < 1"]),
    ("escape", math.inf, ["escape", "inf", "finite"]),
    ("escape", -1.0, ["escape", "-1.0", "escape >= 0"]),
    ("orders", 0, ["orders", "0", "1 <= orders <= 24"]),
    ("orders", 25, ["orders", "25", "1 <= orders <= 24"]),
    ("orders", [1, 30], ["orders[1]", "30", "1 <= orders[1] <= 24"]),
    ("orders", [3, 2], ["orders", "strictly increasing", "[3, 2]"]),
    ("orders", "abc", ["orders", "list of ints", "'abc'"]),
    ("max_total", 1, ["max_total", "1", "max_total"]),
    ("exclusion", "yes", ["exclusion", "'yes'", "true or false"]),
])
def test_bad_count_options_name_field_value_and_range(cls, option, value, words):
    with pytest.raises(InputError) as err:
        cls(**{option: value})
    msg = str(err.value)
    assert cls.__name__.replace("Predictor", "Config") in msg
    for w in words:
        assert w in msg, (w, msg)


def test_per_order_values():
    m = NGramPredictor(orders=2, discount=[0.5, 0.6, 0.7], escape=0.2)
    assert m.discount.tolist() == [0.5, 0.6, 0.7] and m.escape.tolist() == [0.2, 0.2, 0.2]
    with pytest.raises(InputError, match="needs one value or 3 values"):
        NGramPredictor(orders=2, discount=[0.5, 0.6])
    with pytest.raises(InputError, match=r"discount\[2\] = nan"):
        NGramPredictor(orders=2, discount=[0.5, 0.6, math.nan])
    with pytest.raises(InputError, match="no escape mass"):
        NGramPredictor(orders=1, discount=[0.0, 0.5], escape=[0.0, 0.5])
    with pytest.raises(InputError, match="needs one value or 9 values"):  # the mixer: + 5 word contexts
        MixerPredictor(orders=3, discount=[0.5] * 4)


@pytest.mark.parametrize("option, value, words", [
    ("word", 6, ["word", "6", "0 <= word <= 5"]),
    ("match_min", 33, ["match_min", "33", "0 <= match_min <= 32"]),
    ("lr", -1.0, ["lr", "-1.0", "lr >= 0"]),
    ("lr2", math.nan, ["lr2", "finite"]),
    ("apm_rate", 2.0, ["apm_rate", "2.0", "0 <= apm_rate <= 1"]),
    ("see_rate", -0.5, ["see_rate", "see_rate >= 0"]),
    ("doc_orders", [2, 7], ["doc_orders", "among orders", "[2, 7]"]),
    ("doc_orders", [0], ["doc_orders[0]", "1 <= doc_orders[0] <= 24"]),
    ("indep", 1, ["indep", "true or false"]),
])
def test_bad_mixer_options(option, value, words):
    with pytest.raises(InputError) as err:
        MixerPredictor(**{option: value})
    for w in ["MixerConfig"] + words:
        assert w in str(err.value), (w, str(err.value))


def test_other_models_options():
    with pytest.raises(InputError, match="ExactContextConfig.order = 0"):
        ExactContextPredictor(order=0)
    with pytest.raises(InputError, match="BackoffConfig.holdout = 1.0"):
        BackoffPredictor(holdout=1.0)
    with pytest.raises(InputError, match="OnlineNGramConfig.online = False"):
        OnlineNGramPredictor(online=False)  # always adaptive
    with pytest.raises(InputError, match="unknown NGramConfig option"):
        NGramPredictor(order=3)


def test_defaults_and_saved_configuration_are_unchanged():
    assert NGramPredictor().config_dict() == {
        "orders": [1, 2, 3, 4, 5, 6], "discount": [0.7] * 7, "escape": [0.3] * 7, "exclusion": True,
        "max_total": 1 << 30, "online": True}
    assert BackoffPredictor().config_dict()["orders"] == [1, 2, 3, 4, 5]
    assert BackoffPredictor().config_dict()["holdout"] == 0.1
    assert OnlineNGramPredictor().config_dict()["max_total"] == 255
    assert ExactContextPredictor().config_dict() == {"order": 3, "discount": [0.7, 0.7], "escape": [0.3, 0.3],
                                                     "exclusion": False, "max_total": 1 << 30, "online": True}
    mixer = MixerPredictor().config_dict()
    assert mixer == {
        "orders": [1, 2, 3, 4, 5, 6], "discount": [0.7] * 12, "escape": [0.3] * 12, "exclusion": True,
        "max_total": 511, "online": True, "lr": 0.0005, "lr2": 0.0005, "match_min": 8, "word": 5,
        "apm_rate": 0.02, "indep": False, "select_match": True, "select_word": True, "select_doc": False,
        "see_rate": 0.02, "doc_orders": [2, 4], "fit_experts": True, "experts": []}
    # a saved configuration rebuilds the same model; a config instance works as well as keywords
    assert MixerPredictor(**{k: v for k, v in mixer.items() if k != "experts"}).config_dict() == mixer
    assert NGramPredictor(NGramConfig(orders=3)).orders == [1, 2, 3]
    assert BackoffPredictor(BackoffConfig(em_iters=3), holdout=0.2).config_dict()["em_iters"] == 3
    assert MixerPredictor(MixerConfig(word=0)).input_names()[-1] == "match"


@pytest.mark.parametrize("model, option", [("mixer", "discount=NaN"), ("ngram", "escape=Infinity"),
                                           ("backoff", "orders=30"), ("mixer", "colour=3")])
def test_cli_config_errors(tmp_path, capsys, model, option):
    train = tmp_path / "train.txt"
    train.write_bytes(b"some text to fit on, " * 20)
    assert main(["fit", "--model", model, "--config", option, "--input", str(train), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and option.split("=")[0] in err

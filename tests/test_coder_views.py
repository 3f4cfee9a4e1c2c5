"""The coder reading other views: configuration rules, presets, persistence, the default unchanged, and the
byte-latent configuration through fit / score / generate / compress / decompress on the command line."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from decepticons import ByteLatentPredictiveCoder, CoderConfig, InputError, load_model
from decepticons.cli import main
from decepticons.data import embedded_corpus
from decepticons.runtime.progress import set_quiet

#: size of the compressed container's header (decepticons.coding)
HEADER_BYTES = 46


@pytest.fixture(scope="module")
def corpus():
    train, valid = embedded_corpus()
    return np.asarray(train[:12000]), np.asarray(valid[:1500])


def test_default_config_dict_is_unchanged():
    d = ByteLatentPredictiveCoder().config_dict()
    assert "view" not in d and "view_options" not in d
    d = ByteLatentPredictiveCoder(view="byte_latent").config_dict()
    assert d["view"] == "byte_latent"


def test_config_rules_and_presets():
    with pytest.raises(InputError, match="hierarchical substrate"):
        CoderConfig(view="hierarchical")
    with pytest.raises(InputError, match="view"):
        CoderConfig(view="nope")
    with pytest.raises(InputError, match="unknown preset"):
        ByteLatentPredictiveCoder(preset="nope")
    with pytest.raises(InputError, match="unknown"):
        ByteLatentPredictiveCoder(view="byte_latent", view_options={"bogus": 1})
    m = ByteLatentPredictiveCoder(preset="hierarchical", max_order=2)
    assert m.config.substrate == "hierarchical" and m.config.view == "hierarchical" and m.config.max_order == 2
    m = ByteLatentPredictiveCoder(preset="sampled", substrate_options={"n_decays": 4, "embed_dim": 16})
    assert m.substrate.state_size == 64   # explicit settings override the preset's


@pytest.mark.parametrize("preset", ["byte_latent", "hierarchical", "linear_memory", "sampled"])
def test_views_fit_save_load_and_workers(preset, corpus, tmp_path):
    train, valid = corpus
    m = ByteLatentPredictiveCoder(preset=preset, max_order=3, chunk_size=2048)
    m.fit(train)
    assert m.readout.W.shape == (m.view.feature_size + 1, 256)
    back = load_model(m.save(tmp_path / "m.safetensors") and tmp_path / "m.safetensors")
    assert back.fingerprint() == m.fingerprint()
    np.testing.assert_array_equal(back.log_probs(valid), m.log_probs(valid))
    two = ByteLatentPredictiveCoder(preset=preset, max_order=3, chunk_size=2048)
    two.fit(train, workers=2)
    assert two.fingerprint() == m.fingerprint()


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    set_quiet(False)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("config", [["view=byte_latent", "max_order=3"], ["preset=hierarchical", "max_order=2"]])
def test_cli_fit_score_generate_compress(config, corpus, tmp_path):
    train, valid = corpus
    (tmp_path / "train.txt").write_bytes(train.tobytes())
    (tmp_path / "valid.txt").write_bytes(valid.tobytes())
    path = str(tmp_path / "m.safetensors")
    args = [a for c in config for a in ("--config", c)]
    code, out, err = _cli(["fit", "--input", str(tmp_path / "train.txt"), "--valid", str(tmp_path / "valid.txt"),
                           *args, "--save", path, "--json"])
    assert code == 0, err
    fit = json.loads(out)
    code, out, err = _cli(["score", "--load", path, "--input", str(tmp_path / "valid.txt"), "--json"])
    assert code == 0, err
    bits = json.loads(out)["score"]["bits_per_byte"]
    assert bits == pytest.approx(fit["fit"]["valid_bits_per_byte"], rel=1e-9)
    code, out, err = _cli(["generate", "--load", path, "--prompt", "the ", "--steps", "30", "--seed", "1"])
    assert code == 0 and out.startswith("the "), err
    z, back = str(tmp_path / "v.dz"), str(tmp_path / "v.out")
    code, out, err = _cli(["compress", "--load", path, "--input", str(tmp_path / "valid.txt"), "--output", z,
                           "--json"])
    assert code == 0, err
    payload_bits = 8 * ((tmp_path / "v.dz").stat().st_size - HEADER_BYTES)
    # the stream agrees with log_probs: the range coder's payload is the scored total (plus its last words)
    assert abs(payload_bits - bits * len(valid)) < 0.002 * bits * len(valid) + 96
    code, _, err = _cli(["decompress", "--load", path, "--input", z, "--output", back])
    assert code == 0, err
    assert (tmp_path / "v.out").read_bytes() == valid.tobytes()


def test_cli_bad_view_is_a_user_error(tmp_path):
    (tmp_path / "t.txt").write_bytes(b"abc" * 100)
    code, _, err = _cli(["fit", "--input", str(tmp_path / "t.txt"), "--config", "view=hierarchical"])
    assert code == 2 and "hierarchical substrate" in err

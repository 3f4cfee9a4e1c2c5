"""Small user mistakes: each is one InputError naming the allowed range (exit status 2 and one ``error:``
line from the command line), never a traceback, a silent truncation or an unbounded run."""

from __future__ import annotations

import os

import numpy as np
import pytest

from _hostile import assert_user_error, needs_torch, run_cli
from contract import tiny_spec, train_bytes
from decepticons import InputError
from decepticons.codecs import ByteCodec
from decepticons.data import embedded_corpus
from decepticons.predictor import MAX_GENERATE_STEPS, check_byte
from decepticons.registry import available_models, model_class

TRAIN = np.asarray(embedded_corpus()[0][:20_000])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("m")
    m = model_class("ngram")(orders=[1, 2])
    m.fit(TRAIN, progress=False)
    m.save(d / "m.safetensors")
    (d / "train.txt").write_bytes(TRAIN.tobytes())
    return d


# ------------------------------------------------------------------------------------------ stream.push
BAD_BYTES = ["a", None, np.array([1, 2]), np.array(3), 1.7, 2.0, 300, -1, True, b"a", np.float64(4.0)]


@pytest.mark.parametrize("name", available_models())
def test_every_stream_refuses_anything_but_a_byte(name):
    model = tiny_spec(name).make(train_bytes())
    if not model.causal:  # a non-causal model has no stream at all: asking for one is the error
        with pytest.raises(InputError, match="non-causal"):
            model.stream()
        return
    st = model.stream()
    for bad in BAD_BYTES:
        with pytest.raises(InputError, match="a byte must be an integer in 0..255"):
            st.push(bad)
    st.push(65)
    st.push(np.uint8(66))
    st.push(np.int64(67))
    assert np.all(np.isfinite(st.log_probs()))


def test_check_byte_is_the_one_rule():
    assert [check_byte(b) for b in (0, 255, np.uint8(7), np.int32(9))] == [0, 255, 7, 9]
    for bad in BAD_BYTES:
        with pytest.raises(InputError):
            check_byte(bad)


# ------------------------------------------------------------------------------------------ generate
@pytest.mark.parametrize("kwargs, needle", [
    ({"top_k": 2.5}, "top_k must be an integer >= 1"),
    ({"top_k": 0}, "top_k must be an integer >= 1"),
    ({"top_k": "3"}, "top_k must be an integer >= 1"),
    ({"top_k": True}, "top_k"),
    ({"top_k": 2.5, "greedy": True}, "top_k"),
    ({"temperature": "hot"}, "temperature must be a finite number"),
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"steps": MAX_GENERATE_STEPS + 1}, f"steps must be an integer in 0..{MAX_GENERATE_STEPS}"),
    ({"steps": 1.5}, "steps must be an integer"),
    ({"steps": -1}, "steps must be an integer"),
    ({"seed": -1}, "seed must be an integer in 0.."),
    ({"seed": 2.5}, "seed"),
])
def test_generate_refuses_bad_arguments(kwargs, needle):
    m = model_class("ngram")(orders=[1])
    m.fit(TRAIN[:2000], progress=False)
    with pytest.raises(InputError, match=needle):
        m.generate(b"the ", **{"steps": 4, **kwargs})


def test_text_that_utf8_cannot_hold_is_an_input_error():
    with pytest.raises(InputError, match="cannot be encoded as UTF-8"):
        ByteCodec.encode_text("a\udcffb")


# ------------------------------------------------------------------------------------------ command line
@pytest.mark.parametrize("args, needle", [
    (["generate", "--seed", "-1"], "--seed must be an integer in 0..9223372036854775807, got -1"),
    (["generate", "--seed", str(2 ** 64)], "--seed must be an integer"),
    (["generate", "--steps", "100000000000"], f"steps must be an integer in 0..{MAX_GENERATE_STEPS}"),
    (["generate", "--steps", "-3"], "steps must be an integer"),
    (["generate", "--top-k", "0"], "top_k must be an integer >= 1"),
    (["generate", "--temperature", "nan"], "temperature"),
    (["fit", "--seed", "-1"], "--seed must be"),
    (["fit", "--workers", "0"], "--workers must be an integer >= 1"),
    (["fit", "--generate", "-5"], "steps must be an integer"),
])
def test_cli_mistakes_are_one_error_line(saved, args, needle):
    if args[0] == "generate":
        args = [*args, "--load", str(saved / "m.safetensors")]
    else:
        args = [*args, "--model", "ngram", "--config", "orders=[1]", "--input", str(saved / "train.txt")]
    assert_user_error(run_cli(args), needle, seconds=60)


def test_a_prompt_that_is_not_utf8_means_its_bytes(saved):
    prompt = os.fsdecode(b"\xff\xfeab")  # what argparse receives for --prompt $'\xff\xfeab'
    r = run_cli(["generate", "--load", str(saved / "m.safetensors"), "--prompt", prompt, "--steps", "5", "--json"])
    assert r.returncode == 0, r.stderr
    assert '"sample"' in r.stdout


@needs_torch
@pytest.mark.parametrize("flags, needle", [
    (["--device", "bogus"], "unknown device 'bogus'; use cpu, cuda or cuda:N"),
    (["--device", "cuda:7"], "cuda:7"),
    (["--config", "train.eval_bytes=-1"], "eval_bytes = -1 is not allowed"),
    (["--config", "train.checkpoint_every=-1"], "checkpoint_every = -1 is not allowed"),
    (["--config", "train.log_every=0"], "log_every = 0 is not allowed"),
    (["--config", "train.keep_checkpoints=0"], "keep_checkpoints = 0"),
    (["--batch-size", "0"], "batch_size = 0"),
    (["--seq-len", "-5"], "seq_len = -5"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--budget", "inf"], "budget"),
    (["--seed", "-1"], "--seed must be"),
])
def test_train_mistakes_are_one_error_line(saved, flags, needle):
    import torch

    if flags[:2] == ["--device", "cuda:7"] and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    args = ["train", "--model", "causal-bank", "--config", "embed_dim=8", "--config", "num_modes=8", "--config",
            "readout_hidden=16", "--config", "input_hidden=0", "--config", "local_window=2", "--input",
            str(saved / "train.txt"), "--steps", "2", *flags]
    assert_user_error(run_cli(args, torch=True, mem=0), needle, seconds=90)


@pytest.mark.parametrize("args, needle", [
    (["train", "--model", "causal-bank", "--steps", "2"], "needs PyTorch, which is not installed"),
    (["fit", "--model", "causal-bank"], "causal-bank"),
])
def test_torch_commands_without_torch_are_one_error_line(saved, args, needle):
    hide = "sys.modules['torch'] = None  # as if torch were not installed"
    r = run_cli([*args, "--input", str(saved / "train.txt")], prelude=hide, mem=0)
    assert_user_error(r, needle, seconds=60)
    assert "torch" in r.stderr  # the message names the missing package

"""The command line: every subcommand in-process on an exact test model, a few real runs of the console script,
and every user mistake -> one ``error:`` line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import decepticons
from _reference import OtherTablePredictor, TablePredictor, reference_bits, reference_greedy
from decepticons import data as D
from decepticons import registry
from decepticons.cli import EXIT_USER_ERROR, main, parse_overrides
from decepticons.registry import load_model, model_class
from decepticons.runtime.progress import set_quiet

CORPUS = b"to be, or not to be, that is the question:\nwhether 'tis nobler in the mind to suffer\n" * 20
HELD_OUT = b"the slings and arrows of outrageous fortune,\nor to take arms against a sea of troubles\n" * 3


@pytest.fixture(autouse=True)
def test_model(monkeypatch):
    """Register the exact order-1 table as model kind ``test-table`` for this module's in-process runs."""
    monkeypatch.setitem(registry._BUILTIN, "test-table", f"{TablePredictor.__module__}:TablePredictor")
    yield
    set_quiet(False)


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "corpus.txt").write_bytes(CORPUS)
    (tmp_path / "valid.txt").write_bytes(HELD_OUT)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.fixture()
def saved(files):
    """A model saved by ``fit --save``, and the same model fitted in-process for comparison."""
    path = files / "m.safetensors"
    code, _, err = run(["fit", "--model", "test-table", "--input", str(files / "corpus.txt"), "--save", str(path),
                        "--quiet"])
    assert code == 0, err
    reference = TablePredictor(seed=0)
    reference.fit(CORPUS)
    return path, reference


def run(argv: list[str], stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit status, stdout, stderr); argparse's SystemExit becomes the status."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr = out, err
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdout, sys.stderr, sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def assert_user_error(result: tuple[int, str, str], pattern: str) -> str:
    code, out, err = result
    assert code == EXIT_USER_ERROR, (code, out, err)
    assert "Traceback" not in err + out
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert re.search(pattern, errors[0]), errors[0]
    return errors[0]


# ------------------------------------------------------------------------------------------ basics
def test_version():
    code, out, _ = run(["--version"])
    assert code == 0 and out.strip() == f"decepticons {decepticons.__version__}"


def test_no_command_prints_help_and_fails():
    code, out, _ = run([])
    assert code == EXIT_USER_ERROR and "usage:" in out and "fit" in out


@pytest.mark.parametrize("command", ["fit", "score", "generate", "info", "compress", "decompress", "train"])
def test_every_subcommand_has_help(command):
    code, out, err = run([command, "--help"])
    assert code == 0, err
    assert out.startswith(f"usage: decepticons {command}")


def test_info():
    code, out, _ = run(["info"])
    assert code == 0
    assert f"decepticons {decepticons.__version__}" in out and "coder" in out and "backends" in out
    code, out, _ = run(["info", "--json"])
    d = json.loads(out)
    assert d["version"] == decepticons.__version__
    assert {"coder", "test-table"} <= set(d["models"])
    assert set(d["backends"]) >= {"torch", "mlx"}


def test_parse_overrides():
    assert parse_overrides(["order=5", "lam=[0.1, 1]", "name=linear", "max-order=3", "flag=true", "x= 2 "]) == \
        {"order": 5, "lam": [0.1, 1], "name": "linear", "max_order": 3, "flag": True, "x": 2}
    assert parse_overrides(None) == {}


# ------------------------------------------------------------------------------------------ fit / score / generate
def test_fit_reports_saves_and_samples(files):
    path = files / "m.safetensors"
    code, out, err = run(["fit", "--model", "test-table", "--input", str(files / "corpus.txt"), "--valid",
                          str(files / "valid.txt"), "--save", str(path), "--generate", "30", "--greedy"])
    assert code == 0, err
    ref = TablePredictor(seed=0)
    ref.fit(CORPUS)
    assert f"({len(CORPUS):,} bytes)" in err  # what is being fitted, on stderr
    assert re.search(r"train bits/byte\s+\d+\.\d+", out)
    assert re.search(r"held-out bits/byte\s+" + f"{ref.score(HELD_OUT).bits_per_byte:.4f}", out)
    assert "saved" in out and path.exists()
    assert TablePredictor.load(path).fingerprint() == ref.fingerprint()
    assert out.endswith(reference_greedy(ref, b"", 30).decode("utf-8", "replace") + "\n")


def test_fit_json(files):
    path = files / "m.safetensors"
    code, out, err = run(["fit", "--model", "test-table", "--input", str(files / "corpus.txt"), "--json",
                          "--save", str(path), "--generate", "12", "--prompt", "to be", "--greedy"])
    assert code == 0 and err == ""
    d = json.loads(out)
    ref = TablePredictor(seed=0)
    ref.fit(CORPUS)
    assert d["fit"]["train_bytes"] == len(CORPUS)
    assert d["fit"]["train_bits_per_byte"] == pytest.approx(reference_bits(ref, CORPUS).mean())
    assert d["saved"] == {"path": str(path), "fingerprint": ref.fingerprint()}
    assert d["sample"] == reference_greedy(ref, b"to be", 12).decode()


def test_fit_quiet_prints_nothing(files):
    code, out, err = run(["fit", "--model", "test-table", "--input", str(files / "corpus.txt"), "--quiet"])
    assert (code, out, err) == (0, "", "")


def test_fit_config_and_seed_reach_the_model(files):
    path = files / "m.safetensors"
    code, _, err = run(["fit", "--model", "test-table", "--input", str(files / "corpus.txt"), "--config",
                        "smoothing=0.25", "--config", "context_length=64", "--seed", "7", "--save", str(path)])
    assert code == 0, err
    m = TablePredictor.load(path)
    assert m.smoothing == 0.25 and m.context_length == 64


def test_fit_without_input_uses_the_embedded_corpus(monkeypatch):
    train, valid = D.embedded_corpus()
    monkeypatch.setattr(D, "embedded_corpus", lambda: (train[:20_000], valid[:5_000]))
    code, out, err = run(["fit", "--model", "test-table"])
    assert code == 0, err
    assert "embedded" in err
    assert "held-out bits/byte" in out and "(5,000 bytes)" in out


def test_fit_from_standard_input(files):
    path = files / "m.safetensors"
    code, _, err = run(["fit", "--model", "test-table", "--input", "-", "--save", str(path)], stdin=CORPUS)
    assert code == 0, err
    ref = TablePredictor(seed=0)
    ref.fit(CORPUS)
    assert TablePredictor.load(path).fingerprint() == ref.fingerprint()


def test_fit_load_never_silently_drops_the_loaded_model(files, saved):
    path, _ = saved
    assert_user_error(run(["fit", "--load", str(path), "--input", str(files / "valid.txt")]), "--continue")
    assert_user_error(run(["fit", "--continue", "--input", str(files / "valid.txt")]), "needs --load")
    # a model whose fit is one pass cannot continue: said so, and the file is untouched
    before = path.read_bytes()
    assert_user_error(run(["fit", "--load", str(path), "--continue", "--input", str(files / "valid.txt"),
                           "--save", str(path)]), "cannot continue")
    assert path.read_bytes() == before


def test_fit_continue_accumulates_counts(files):
    first, cont = files / "first.safetensors", files / "cont.safetensors"
    code, _, err = run(["fit", "--model", "ngram", "--config", "orders=2", "--input", str(files / "corpus.txt"),
                        "--save", str(first), "--quiet"])
    assert code == 0, err
    code, out, err = run(["fit", "--load", str(first), "--continue", "--input", str(files / "valid.txt"),
                          "--save", str(cont), "--json"])
    assert code == 0, err
    assert json.loads(out)["fit"]["train_bytes"] == len(HELD_OUT)
    ref = model_class("ngram")(orders=2)
    ref.fit(CORPUS)
    ref.partial_fit(HELD_OUT)
    assert load_model(cont).fingerprint() == ref.fingerprint()
    fresh = model_class("ngram")(orders=2)
    fresh.fit(HELD_OUT)
    assert fresh.fingerprint() != ref.fingerprint()


def test_binary_input_needs_allow_binary(files):
    assert_user_error(run(["fit", "--model", "test-table", "--input", str(files / "blob.bin")]), "binary")
    code, _, err = run(["fit", "--model", "test-table", "--input", str(files / "blob.bin"), "--allow-binary",
                        "--quiet"])
    assert code == 0, err


def test_score(files, saved):
    path, ref = saved
    trace = files / "bits.npy"
    code, out, err = run(["score", "--load", str(path), "--input", str(files / "valid.txt"), "--json",
                          "--trace", str(trace)])
    assert code == 0, err
    d = json.loads(out)["score"]
    expected = reference_bits(ref, HELD_OUT)
    assert d["bytes"] == len(HELD_OUT)
    assert d["bits_per_byte"] == pytest.approx(expected.mean(), rel=1e-12)
    np.testing.assert_allclose(np.load(trace), expected.astype(np.float32))
    code, out, _ = run(["score", "--load", str(path), "--input", str(files / "valid.txt")])
    assert code == 0 and f"{expected.mean():.4f}" in out


def test_without_numba_info_says_so_and_the_slow_path_warns_once():
    script = """
import sys
sys.modules["numba"] = None  # import numba fails, find_spec says absent: as on a machine without it
from decepticons.cli import main
main(["info"])
from decepticons.registry import model_class
import numpy as np
x = np.frombuffer(b"abracadabra " * 50, dtype=np.uint8)
for _ in range(2):
    model_class("ngram")(orders=2).fit(x)
"""
    r = subprocess.run([sys.executable, "-W", "always::RuntimeWarning", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "kernels      interpreted reference" in r.stdout and "numba: no" in r.stdout
    assert r.stderr.count("numba is not installed") == 1, r.stderr


def test_info_model_lists_every_kinds_config_keys():
    from decepticons.registry import available_models
    from decepticons.validation import field_docs

    for kind in available_models():
        if kind == "test-table":
            continue
        code, out, err = run(["info", "--model", kind, "--json"])
        assert code == 0, (kind, err)
        rows = json.loads(out)["config"]
        cls = model_class(kind)
        cfg = getattr(cls, "config_class", None) or getattr(cls, "config_cls", None)
        assert [r["name"] for r in rows] == [r["name"] for r in field_docs(cfg)] and rows, kind
    code, out, _ = run(["info", "--model", "ngram"])
    assert code == 0 and "orders" in out and "default 6" in out
    assert_user_error(run(["info", "--model", "nope"]), "unknown model")
    code, out, _ = run(["fit", "--help"])
    assert "model kinds:" in out and "decepticons info --model NAME" in out and "examples:" in out


def test_generate(saved):
    path, ref = saved
    code, out, err = run(["generate", "--load", str(path), "--prompt", "to be", "--steps", "40", "--greedy"])
    assert code == 0, err
    assert out == reference_greedy(ref, b"to be", 40).decode("utf-8", "replace") + "\n"
    code, out, _ = run(["generate", "--load", str(path), "--steps", "10", "--greedy", "--json"])
    assert json.loads(out) == {"schema_version": 1, "sample": reference_greedy(ref, b"", 10).decode("utf-8", "replace")}


def test_generate_sampling_is_seeded(saved):
    path, _ = saved
    a = run(["generate", "--load", str(path), "--steps", "200", "--seed", "3", "--top-k", "5"])
    b = run(["generate", "--load", str(path), "--steps", "200", "--seed", "3", "--top-k", "5"])
    c = run(["generate", "--load", str(path), "--steps", "200", "--seed", "4", "--top-k", "5"])
    assert a[0] == 0 and a == b and a[1] != c[1]


def test_generate_threads(saved):
    torch = pytest.importorskip("torch")
    path, _ = saved
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        code, _, err = run(["generate", "--load", str(path), "--steps", "5", "--threads", "1"])
        assert code == 0, err
        assert torch.get_num_threads() == 1  # generation runs on the threads asked for (default 1)
        code, _, err = run(["generate", "--load", str(path), "--steps", "5", "--threads", "0"])
        assert code == 2 and "--threads must be an integer in 1..1024" in err
    finally:
        torch.set_num_threads(before)


def test_info_load(saved):
    path, ref = saved
    code, out, err = run(["info", "--load", str(path)])
    assert code == 0, err
    assert re.search(r"model\s+test-table", out) and ref.fingerprint() in out
    code, out, _ = run(["info", "--load", str(path), "--json"])
    d = json.loads(out)
    assert d["kind"] == "test-table" and d["fingerprint"] == ref.fingerprint()
    assert d["parameters"] == 256 * 256 + 256
    assert d["config"] == ref.config_dict() and d["file_bytes"] == path.stat().st_size


# ------------------------------------------------------------------------------------------ user mistakes
@pytest.mark.parametrize("argv, pattern", [
    (["fit", "--input", "{d}/missing.txt"], "not found"),
    (["fit", "--input", "{d}/empty.txt"], "empty"),
    (["fit", "--input", "{d}/folder"], "directory"),
    (["fit", "--model", "test-table", "--input", "{d}/corpus.txt", "--valid", "{d}/missing.txt"], "not found"),
    (["fit", "--model", "no-such-model", "--input", "{d}/corpus.txt"], "unknown model 'no-such-model'"),
    (["fit", "--model", "test-table", "--input", "{d}/corpus.txt", "--config", "smoothing"], "KEY=VALUE"),
    (["fit", "--model", "test-table", "--input", "{d}/corpus.txt", "--config", "=3"], "KEY=VALUE"),
    (["fit", "--model", "test-table", "--input", "{d}/corpus.txt", "--config", "no_such_option=1"],
     "no_such_option"),
    (["fit", "--model", "test-table", "--input", "{d}/corpus.txt", "--save", "{d}/folder"], "folder"),
    (["fit", "--model", "test-table", "--input", "{d}/corpus.txt", "--generate", "-5"], "steps"),
    (["score", "--load", "{d}/missing.safetensors", "--input", "{d}/corpus.txt"], "not found"),
    (["score", "--load", "{d}/folder", "--input", "{d}/corpus.txt"], "directory"),
    (["score", "--load", "{d}/corpus.txt", "--input", "{d}/corpus.txt"], "not a safetensors model file"),
    (["generate", "--load", "{d}/blob.bin"], "truncated or not a safetensors"),
    (["info", "--load", "{d}/empty.txt"], "truncated"),
])
def test_user_mistakes(files, argv, pattern):
    assert_user_error(run([a.replace("{d}", str(files)) for a in argv]), pattern)


def test_empty_standard_input():
    assert_user_error(run(["fit", "--model", "test-table", "--input", "-"], stdin=b""), "standard input is empty")


def test_corrupted_model_file(files, saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    path.write_bytes(raw)
    for argv in (["score", "--load", str(path), "--input", str(files / "valid.txt")],
                 ["generate", "--load", str(path)], ["info", "--load", str(path)],
                 ["fit", "--load", str(path), "--continue", "--input", str(files / "valid.txt")]):
        assert_user_error(run(argv), "corrupted")


def test_truncated_model_file(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:-1000])
    assert_user_error(run(["generate", "--load", str(path)]), "truncated")


def test_model_file_of_an_unknown_kind(files):
    m = OtherTablePredictor(seed=0)
    m.save(files / "other.safetensors")
    assert_user_error(run(["score", "--load", str(files / "other.safetensors"), "--input",
                           str(files / "corpus.txt")]), "unknown model 'test-other'")
    code, out, _ = run(["info", "--load", str(files / "other.safetensors")])  # describing it needs no class
    assert code == 0 and "test-other" in out


def test_score_errors_on_the_input(files, saved):
    path, _ = saved
    assert_user_error(run(["score", "--load", str(path), "--input", str(files / "empty.txt")]), "empty")
    assert_user_error(run(["score", "--load", str(path), "--input", str(files / "nope.txt")]), "not found")
    assert_user_error(run(["score", "--load", str(path), "--input", str(files / "valid.txt"), "--trace",
                           str(files / "folder")]), "folder")


@pytest.mark.parametrize("extra, pattern", [
    (["--steps", "-1"], "steps"),
    (["--temperature", "-1"], "temperature"),
    (["--top-k", "0"], "top_k"),
])
def test_bad_sampling_options(saved, extra, pattern):
    path, _ = saved
    assert_user_error(run(["generate", "--load", str(path), *extra]), pattern)


def test_prompt_longer_than_the_context(files):
    path = files / "short.safetensors"
    TablePredictor(seed=0, context_length=8).save(path)
    assert_user_error(run(["generate", "--load", str(path), "--prompt", "far longer than eight bytes",
                           "--steps", "1"]), "context of 8 bytes")


@pytest.mark.parametrize("argv, pattern", [
    (["fit", "--generate", "many"], "invalid int value"),
    (["fit", "--workers", "two"], "invalid int value"),
    (["generate", "--load", "m", "--temperature", "hot"], "invalid float value"),
    (["score", "--input", "x"], "required"),
    (["frobnicate"], "invalid choice"),
    (["fit", "--no-such-flag"], "unrecognized arguments"),
])
def test_invalid_arguments(argv, pattern):
    assert_user_error(run(argv), pattern)


# ------------------------------------------------------------------------------------------ the console script
def _script() -> str:
    path = Path(sys.executable).parent / "decepticons"
    if not path.exists():
        pytest.skip("the decepticons console script is not installed next to this interpreter")
    return str(path)


def _console(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([_script(), *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=env)


def test_console_script_version_and_info(tmp_path):
    r = _console(["--version"], tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == f"decepticons {decepticons.__version__}"
    r = _console(["info", "--json"], tmp_path)
    assert r.returncode == 0 and "coder" in json.loads(r.stdout)["models"]


def test_console_script_user_errors(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    for args, pattern in ((["fit", "--input", "missing.txt"], "input file not found: missing.txt"),
                          (["info", "--load", "bad.safetensors"], "corrupted header"),
                          (["fit", "--generate", "x"], "invalid int value")):
        r = _console(args, tmp_path)
        assert r.returncode == EXIT_USER_ERROR, r
        assert "Traceback" not in r.stderr and r.stdout == ""
        errors = [line for line in r.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and pattern in errors[0], r.stderr


def test_console_script_info_load(tmp_path):
    TablePredictor(seed=0).save(tmp_path / "m.safetensors")
    r = _console(["info", "--load", "m.safetensors"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "test-table" in r.stdout


# ------------------------------------------------------------------------------------------ the default model
def test_default_coder_end_to_end(files):
    path = files / "coder.safetensors"
    corpus, valid = str(files / "corpus.txt"), str(files / "valid.txt")
    code, out, err = run(["fit", "--input", corpus, "--valid", valid, "--save", str(path), "--json"])
    assert code == 0, err
    fit = json.loads(out)
    assert fit["fit"]["model"] == "coder" and fit["fit"]["train_bytes"] == len(CORPUS)
    code, out, err = run(["score", "--load", str(path), "--input", valid, "--json"])
    assert code == 0, err
    assert json.loads(out)["score"]["bits_per_byte"] == pytest.approx(fit["fit"]["valid_bits_per_byte"], rel=1e-9)
    a = run(["generate", "--load", str(path), "--prompt", "to be", "--steps", "20", "--greedy"])
    b = run(["generate", "--load", str(path), "--prompt", "to be", "--steps", "20", "--greedy"])
    assert a[0] == 0 and a == b and a[1].startswith("to be")
    code, out, _ = run(["info", "--load", str(path), "--json"])
    assert code == 0 and json.loads(out)["fingerprint"] == fit["saved"]["fingerprint"]


@pytest.mark.parametrize("option, pattern", [("no_such_option=1", "no_such_option"),
                                             ("max_order=abc", "max_order|config")])
def test_default_coder_bad_config(files, option, pattern):
    assert_user_error(run(["fit", "--input", str(files / "corpus.txt"), "--config", option]), pattern)


def test_config_with_load_is_refused(saved):
    path, _ = saved
    assert_user_error(run(["fit", "--load", str(path), "--config", "smoothing=0.5"]), "keeps its own configuration")


@pytest.mark.parametrize("save, pattern", [("", "empty"), ("-", "needs a file name"), ("@input", "same file")])
def test_fit_save_names_a_real_separate_file(files, save, pattern):
    corpus = str(files / "corpus.txt")
    target = corpus if save == "@input" else save
    assert_user_error(run(["fit", "--model", "test-table", "--input", corpus, "--save", target, "--quiet"]), pattern)
    assert (files / "corpus.txt").read_bytes() == CORPUS  # the input is untouched


def test_score_trace_onto_a_character_device_keeps_the_device(saved, files):
    path, _ = saved
    before = os.stat("/dev/null")
    code, _, err = run(["score", "--load", str(path), "--input", str(files / "valid.txt"), "--trace", "/dev/null",
                        "--quiet"])
    assert code == 0, err
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)  # still the same character device


def test_score_trace_refused_onto_its_input_or_empty(saved, files):
    path, _ = saved
    assert_user_error(run(["score", "--load", str(path), "--input", str(files / "valid.txt"), "--trace",
                           str(files / "valid.txt"), "--quiet"]), "same file")
    assert (files / "valid.txt").read_bytes() == HELD_OUT
    assert_user_error(run(["score", "--load", str(path), "--input", str(files / "valid.txt"), "--trace", "",
                           "--quiet"]), "empty")


def test_python_dash_m_runs_the_command_line():
    r = subprocess.run([sys.executable, "-m", "decepticons", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"decepticons {decepticons.__version__}"

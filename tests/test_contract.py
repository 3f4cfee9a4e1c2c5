"""The predictor contract on every registered model, and the harness itself.

Each check of :mod:`contract` runs on a tiny instance of every name in ``available_models()`` (causality with
online updates on, stream parity, normalised rows, chunking, no mutation by scoring, save/load, bad inputs,
long inputs). The harness is then checked on models registered here: a toy order-1 model registered in a test
is picked up and passes every check; a model that peeks at the byte it predicts is caught; a registered model
without a tiny configuration fails rather than being skipped.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from contract import (
    F64,
    TINY,
    VARIANTS,
    HasTiny,
    Tiny,
    cases,
    check_causal,
    check_chunks,
    check_declared_causal,
    check_input_errors,
    check_long_input,
    check_no_mutation,
    check_rows,
    check_save_load,
    check_stream_parity,
    noncausal_cases,
    run_contract,
    run_noncausal_contract,
    sample_bytes,
    tiny_spec,
    tolerances,
    train_bytes,
)
from decepticons.codecs import BytesLike, as_byte_array
from decepticons.errors import InputError, ModelFileError
from decepticons.predictor import CausalPredictor, Stream
from decepticons.registry import available_models, load_model, model_class, register, registered, unregister

MODELS = available_models()
CASES = cases(MODELS)
NONCAUSAL = noncausal_cases(MODELS)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def built():
    """``built(name) -> (spec, model, tolerances)``: each tiny model is built once for all the checks."""
    cache: dict[str, tuple[Tiny, CausalPredictor, dict[str, float]]] = {}

    def get(name: str) -> tuple[Tiny, CausalPredictor, dict[str, float]]:
        spec = tiny_spec(name)  # skips or fails on every call, not only the first
        if name not in cache:
            model = spec.make(train_bytes())
            cache[name] = (spec, model, tolerances(spec, model))
        return cache[name]

    return get


def _long_params() -> list[Any]:
    out = []
    for name in CASES:
        spec = VARIANTS.get(name) or TINY.get(name)
        marks = []
        if spec is not None and spec.slow:
            marks.append(pytest.mark.slow)
        if spec is not None and spec.long_xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=spec.long_xfail))
        out.append(pytest.param(name, marks=marks))
    return out


# ----------------------------------------------------------------------------- every registered model
@pytest.mark.parametrize("name", CASES)
def test_rows_are_normalised_and_finite(name, built):
    _, model, tol = built(name)
    check_rows(model, sample_bytes(), tol)


@pytest.mark.parametrize("name", CASES)
def test_causal_with_online_updates_on(name, built):
    spec, model, tol = built(name)
    if spec.adaptive is not None:
        assert model.adaptive == spec.adaptive, f"{name}: the tiny model should have adaptive={spec.adaptive}"
    check_declared_causal(model, spec)
    check_causal(model, sample_bytes(), tol)


@pytest.mark.parametrize("name", CASES)
def test_stream_matches_log_probs(name, built):
    _, model, tol = built(name)
    check_stream_parity(model, sample_bytes(), tol)


@pytest.mark.parametrize("name", CASES)
def test_chunks_concatenate_to_log_probs(name, built):
    _, model, tol = built(name)
    check_chunks(model, sample_bytes(), tol)


@pytest.mark.parametrize("name", CASES)
def test_scoring_never_mutates_the_fitted_state(name, built):
    _, model, _ = built(name)
    check_no_mutation(model, sample_bytes())


@pytest.mark.parametrize("name", CASES)
def test_save_load_round_trip(name, built, tmp_path):
    _, model, _ = built(name)
    check_save_load(model, sample_bytes(), tmp_path / "model.safetensors")


@pytest.mark.parametrize("name", CASES)
def test_bad_inputs_are_input_errors(name, built):
    _, model, _ = built(name)
    check_input_errors(model)


@pytest.mark.parametrize("name", _long_params())
def test_long_inputs_do_not_drift(name, built):
    spec, model, _ = built(name)
    check_long_input(model, spec.long_bytes)


@pytest.mark.parametrize("name", NONCAUSAL)
def test_noncausal_models_are_refused_as_codes_and_really_see_both_sides(name, tmp_path):
    run_noncausal_contract(name, tmp_path)


def test_a_model_declaring_itself_noncausal_is_not_judged_as_a_code():
    assert "oracle" in NONCAUSAL and "oracle" not in CASES
    spec = tiny_spec("oracle")
    model = spec.make(train_bytes())
    with pytest.raises(AssertionError, match="causal is False"):
        check_declared_causal(model, Tiny(spec.make))  # a row that forgot causal=False


def _class_or_none(name: str) -> Any:
    try:
        return model_class(name)
    except InputError:  # an optional package is missing: that model's checks skip, saying so
        return None


def test_every_registered_model_has_a_tiny_configuration():
    missing = [n for n in MODELS if n not in TINY and not isinstance(_class_or_none(n), HasTiny)]
    assert not missing, f"registered models without a tiny configuration (TINY in tests/contract.py): {missing}"


# ----------------------------------------------------------------------------- models registered here
class ToyStream(Stream):
    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        self.prev = 256

    def log_probs(self) -> np.ndarray:
        return self.table[self.prev].copy()

    def push(self, byte: int) -> None:
        if not 0 <= int(byte) < 256:
            raise InputError(f"a byte must be in 0..255, got {byte}")
        self.prev = int(byte)


class ToyCounts(CausalPredictor):
    """Order-1 counts, add-``alpha`` smoothed: ``p(c | x_{t-1} = b) = (n[b, c] + alpha) / (N[b] + 256 alpha)``;
    ``n: float64[257, 256]``, row 256 counts first bytes (the start state)."""

    name: ClassVar[str] = "toy-counts"

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = float(alpha)
        self.counts = np.zeros((257, 256))

    @staticmethod
    def _prev(x: np.ndarray) -> np.ndarray:
        return np.concatenate([[256], x[:-1]]).astype(np.int64) if len(x) else np.zeros(0, dtype=np.int64)

    def fit(self, data: BytesLike) -> None:
        x = as_byte_array(data)
        np.add.at(self.counts, (self._prev(x), x.astype(np.int64)), 1.0)

    def table(self) -> np.ndarray:
        c = self.counts + self.alpha
        return np.log(c / c.sum(axis=1, keepdims=True))

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return self.table()[self._prev(as_byte_array(data))]

    def stream(self) -> Stream:
        return ToyStream(self.table())

    def config_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray], extra: dict[str, Any]) -> ToyCounts:
        model = cls(**config)
        model.counts = np.array(tensors["counts"], dtype=np.float64)
        return model


class ToyBigram(ToyCounts):
    """:class:`ToyCounts` with the harness's ``tiny`` hook."""

    name: ClassVar[str] = "toy-bigram"

    @classmethod
    def tiny(cls, train: np.ndarray) -> ToyBigram:
        model = cls()
        model.fit(train)
        return model


class PeekingBigram(ToyBigram):
    """Broken on purpose: row t is conditioned on ``x_t``, the byte it predicts, instead of ``x_{t-1}``."""

    name: ClassVar[str] = "toy-peeking"

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return self.table()[as_byte_array(data).astype(np.int64)]


def test_a_model_registered_in_a_test_is_picked_up_and_passes(tmp_path):
    with registered("toy-bigram", ToyBigram):
        assert "toy-bigram" in available_models()
        model = run_contract("toy-bigram", tmp_path)
        assert isinstance(model, ToyBigram)
    assert "toy-bigram" not in available_models()


def test_a_non_causal_model_is_caught(tmp_path):
    with registered("toy-peeking", PeekingBigram):
        model = tiny_spec("toy-peeking").make(train_bytes())
        with pytest.raises(AssertionError, match="toy-peeking is not causal: rows 0..0 changed"):
            check_causal(model, sample_bytes(), F64)
        with pytest.raises(AssertionError, match="not causal"):
            run_contract("toy-peeking", tmp_path)
    # the same bytes through the honest model pass
    check_causal(ToyBigram.tiny(train_bytes()), sample_bytes(), F64)


def test_a_registered_model_without_a_tiny_configuration_fails_the_harness():
    with registered("toy-counts", ToyCounts):
        with pytest.raises(pytest.fail.Exception, match="'toy-counts'.*no tiny configuration"):
            tiny_spec("toy-counts")


def test_a_model_needing_a_missing_package_is_skipped_saying_so(monkeypatch):
    with registered("toy-missing", "no_such_package_for_decepticons.models:Model"):
        with pytest.raises(pytest.skip.Exception, match="needs a package that is not installed"):
            tiny_spec("toy-missing")
    monkeypatch.setitem(TINY, "ngram", Tiny(TINY["ngram"].make, needs=("no_such_package_for_decepticons",)))
    with pytest.raises(pytest.skip.Exception, match="needs no_such_package_for_decepticons"):
        tiny_spec("ngram")


def test_register_by_module_path_and_load_model_dispatch(tmp_path):
    path = tmp_path / "toy.safetensors"
    with registered("toy-bigram", f"{__name__}:ToyBigram"):
        assert model_class("toy-bigram") is ToyBigram
        model = ToyBigram.tiny(train_bytes())
        model.save(path)
        assert load_model(path).fingerprint() == model.fingerprint()
    with pytest.raises(ModelFileError, match="unknown model 'toy-bigram'"):
        load_model(path)


@pytest.mark.parametrize("name, target, match", [
    ("ngram", ToyBigram, "already taken"),
    ("", ToyBigram, "non-empty"),
    ("two words", ToyBigram, "without spaces"),
    ("toy", "no_colon", "module:ClassName"),
    ("toy", ":Cls", "module:ClassName"),
    ("toy", int, "CausalPredictor subclass"),
    ("toy", ToyBigram.tiny, "CausalPredictor subclass"),
])
def test_register_refuses_bad_names_and_targets(name, target, match):
    with pytest.raises(InputError, match=match):
        register(name, target)
    assert available_models() == MODELS


def test_unregister_only_removes_registered_models():
    with pytest.raises(InputError, match="not added by register"):
        unregister("ngram")
    with pytest.raises(InputError, match="not added by register"):
        unregister("toy-never-registered")
    register("toy-bigram", ToyBigram)
    try:
        with pytest.raises(InputError, match="already taken"):
            register("toy-bigram", ToyCounts)
    finally:
        unregister("toy-bigram")
    assert "toy-bigram" not in available_models()


# ----------------------------------------------------------------------------- each check can fail
class BadStream(ToyBigram):
    name: ClassVar[str] = "toy-bad-stream"

    def stream(self) -> Stream:
        return ToyStream(np.full((257, 256), -np.log(256.0)))


class Unnormalised(ToyBigram):
    name: ClassVar[str] = "toy-unnormalised"

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return super().log_probs(data) + 1e-6


class LosesARow(ToyBigram):
    name: ClassVar[str] = "toy-loses-a-row"

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16):
        lp = self.log_probs(data)
        for s in range(0, len(lp) - 1, chunk_size):
            yield lp[s:min(s + chunk_size, len(lp) - 1)]


class LearnsWhileScoring(ToyBigram):
    """Counts the bytes it scores into its own fitted tables."""

    name: ClassVar[str] = "toy-learns-in-place"

    def log_probs(self, data: BytesLike) -> np.ndarray:
        out = super().log_probs(data)
        self.fit(data)
        return out


class ForgetsOnLoad(ToyBigram):
    name: ClassVar[str] = "toy-forgets-on-load"

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray], extra: dict[str, Any]) -> ToyCounts:
        return cls(**config)


class AcceptsFloats(ToyBigram):
    name: ClassVar[str] = "toy-accepts-floats"

    def log_probs(self, data: BytesLike) -> np.ndarray:
        if isinstance(data, np.ndarray) and data.ndim == 1 and data.dtype.kind == "f":
            data = data.astype(np.uint8)
        return super().log_probs(data)


class Drifts(ToyBigram):
    """Mixes in more and more of the uniform distribution the further it reads (a decaying state)."""

    name: ClassVar[str] = "toy-drifts"

    def log_probs(self, data: BytesLike) -> np.ndarray:
        lp = super().log_probs(data)
        w = np.minimum(np.arange(len(lp)) / 2e5, 0.9)[:, None]
        return np.log((1 - w) * np.exp(lp) + w / 256)


BROKEN = [
    (BadStream, lambda m, x, p: check_stream_parity(m, x, F64), r"stream row \d+ differs from log_probs"),
    (Unnormalised, lambda m, x, p: check_rows(m, x, F64), "logsumexp"),
    (LosesARow, lambda m, x, p: check_chunks(m, x, F64), "rows for 256 bytes"),
    (LearnsWhileScoring, lambda m, x, p: check_no_mutation(m, x), "changed the fitted state"),
    (ForgetsOnLoad, lambda m, x, p: check_save_load(m, x, p / "m.safetensors"), "another fingerprint"),
    (AcceptsFloats, lambda m, x, p: check_input_errors(m), r"log_probs\(float array\) raised no InputError"),
    (Drifts, lambda m, x, p: check_long_input(m, 1 << 16), "state degrades"),
]


@pytest.mark.parametrize("cls, check, match", [pytest.param(*b, id=b[0].name) for b in BROKEN])
def test_each_check_catches_a_broken_model(cls, check, match, tmp_path):
    with registered(cls.name, cls):
        model = tiny_spec(cls.name).make(train_bytes())
        with pytest.raises(AssertionError, match=match):
            check(model, sample_bytes(), tmp_path)

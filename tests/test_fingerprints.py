"""Pinned predictions: every registered model, built the same way on the same bytes, must give the recorded
fingerprint (sha256 of kind, configuration and weights) and the recorded bits/byte, to the last bit.

The values in ``tests/data/fingerprints.json`` were recorded before the package was restructured into its
present modules; a pure restructuring must leave every one of them unchanged. Count models and the coder are
fitted on the first 4096 bytes of the demo corpus. Torch models are pinned twice: freshly initialised with a
fixed seed, and after 3 optimizer steps of the shared trainer on one CPU thread (which pins the trainer too).
The file also records the environment (CPU, Python, numpy, torch, BLAS threads): elsewhere float kernels may round
differently, so there bits/byte are compared to a relative tolerance and fingerprints are not compared.

A deliberate change of predictions re-records the file (and says so in its commit)::

    PYTHONPATH=src python tests/test_fingerprints.py --record
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decepticons.data import embedded_corpus
from decepticons.predictor import CausalPredictor
from decepticons.registry import model_class

DATA = Path(__file__).parent / "data" / "fingerprints.json"
#: on another machine or library build float kernels may round differently: bits/byte are then compared to
#: this relative tolerance and fingerprints (which hash float weights) are not compared
OTHER_ENVIRONMENT_RTOL = 1e-6


@cache
def corpus() -> tuple[np.ndarray, np.ndarray]:
    train, valid = embedded_corpus()
    return np.asarray(train), np.asarray(valid)


def train_bytes() -> np.ndarray:
    """The first 4096 bytes of the demo training corpus."""
    return corpus()[0][:4096].copy()


def sample_bytes() -> np.ndarray:
    """200 bytes of held-out text, then 56 seeded random bytes."""
    rng = np.random.default_rng(1234)
    return np.concatenate([corpus()[1][:200], rng.integers(0, 256, 56).astype(np.uint8)])


#: tiny PlatoMythos (windows of 16 bytes, 3 loops, 2 rooms)
MYTHOS_TINY: dict[str, Any] = dict(d_model=32, num_heads=2, d_kv_latent=8, rope_dim=4, qk_nope_dim=12, expert_dim=16,
                                   ffn_dim=32, max_seq_len=16, max_loop_depth=3, num_rooms=2, curriculum_steps=4)

#: count models and the coder: registry name and configuration, fitted on ``train_bytes()``
FITTED: dict[str, tuple[str, dict[str, Any]]] = {
    "backoff": ("backoff", dict(orders=3)),
    "coder": ("coder", dict(max_order=3, chunk_size=512)),
    "coder-echo": ("coder", dict(substrate="echo_state", max_order=2, chunk_size=512)),
    "exact-context": ("exact-context", dict(order=2)),
    "mixer": ("mixer", dict(orders=3, match_min=4)),
    "ngram": ("ngram", dict(orders=4)),
    "ngram-noexcl": ("ngram", dict(orders=[1, 3, 7], exclusion=False, max_total=6)),
    "online-ngram": ("online-ngram", dict(orders=3, max_total=8)),
}

#: the trainer's settings for the 3 pinned steps (tiny batches, no plots, one evaluation at the end)
TRAIN_STEPS = dict(max_steps=3, batch_size=4, seq_len=16, eval_every=0, eval_bytes=512, plot=False, progress=False)


def _torch() -> Any:
    """torch on one thread (the recorded values come from one-thread runs), or a skip saying it is missing."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _mixer_with_experts() -> CausalPredictor:
    experts = [model_class("ngram")(orders=2), model_class("exact-context")(order=1)]
    m = model_class("mixer")(orders=2, match_min=4, experts=experts)
    m.fit(train_bytes())
    return m


def _causal_bank(trained: bool, **overrides: Any) -> Callable[[], CausalPredictor]:
    def make() -> CausalPredictor:
        _torch()
        cls = model_class("causal-bank")
        m = cls(cls.config_cls.variant("tiny", **overrides), seed=3)
        if trained:
            m.fit(train_bytes(), mode="carried" if overrides.get("readout") == "routed" else "detached",
                  **TRAIN_STEPS)
        return m
    return make


def _mythos(trained: bool) -> Callable[[], CausalPredictor]:
    def make() -> CausalPredictor:
        _torch()
        m = model_class("mythos")(seed=0, **MYTHOS_TINY)
        if trained:
            m.fit(train_bytes(), **TRAIN_STEPS)
        return m
    return make


def _fitted(name: str, config: dict[str, Any]) -> Callable[[], CausalPredictor]:
    def make() -> CausalPredictor:
        m = model_class(name)(**config)
        m.fit(train_bytes())
        return m
    return make


RECIPES: dict[str, Callable[[], CausalPredictor]] = {
    **{k: _fitted(name, cfg) for k, (name, cfg) in FITTED.items()},
    "mixer-experts": _mixer_with_experts,
    "causal-bank/init": _causal_bank(False),
    "causal-bank/trained": _causal_bank(True),
    "causal-bank-routed/trained": _causal_bank(True, readout="routed", state_dim=2),
    "causal-bank-gru/init": _causal_bank(False, readout="gru", substrate_mode="frozen", state_dim=2),
    "mythos/init": _mythos(False),
    "mythos/trained": _mythos(True),
}


def measure(model: CausalPredictor) -> dict[str, Any]:
    valid = corpus()[1][:2048]
    return {"model": model.name, "fingerprint": model.fingerprint(),
            "bits_per_byte": {"sample": model.score(sample_bytes()).bits_per_byte,
                              "valid_2k": model.score(valid).bits_per_byte}}


def blas_threads() -> str:
    """The thread count numpy's BLAS starts with (``OMP_NUM_THREADS``, else the usable cores): the coder's ridge
    weights round differently with another count."""
    if os.environ.get("OMP_NUM_THREADS"):
        return os.environ["OMP_NUM_THREADS"]
    return str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())


def environment() -> dict[str, str]:
    """What float results depend on besides the code: CPU, Python, numpy and torch builds, BLAS threads."""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    env = {"machine": platform.machine(), "cpu": cpu, "python": platform.python_version(), "numpy": np.__version__,
           "blas_threads": blas_threads()}
    try:
        import torch

        env["torch"] = torch.__version__
    except ImportError:
        env["torch"] = "none"
    return env


@cache
def recorded_file() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def recorded() -> dict[str, Any]:
    return recorded_file()["recipes"]


def test_every_recipe_is_recorded_and_every_model_pinned():
    assert sorted(recorded()) == sorted(RECIPES)
    pinned = {v["model"] for v in recorded().values()}
    assert pinned >= {"backoff", "causal-bank", "coder", "exact-context", "mixer", "mythos", "ngram",
                      "online-ngram"}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_predictions_are_unchanged(recipe):
    want = recorded()[recipe]
    got = measure(RECIPES[recipe]())
    assert got["model"] == want["model"]
    if environment() != recorded_file()["environment"]:
        for k, v in want["bits_per_byte"].items():
            assert got["bits_per_byte"][k] == pytest.approx(v, rel=OTHER_ENVIRONMENT_RTOL), (
                f"{recipe}: bits/byte on {k} changed (recorded in another environment: compared to "
                f"rel {OTHER_ENVIRONMENT_RTOL}, fingerprints not compared)")
        return
    assert got["bits_per_byte"] == want["bits_per_byte"], f"{recipe}: bits/byte changed"
    assert got["fingerprint"] == want["fingerprint"], f"{recipe}: fingerprint changed"


def record() -> None:
    out = {name: measure(make()) for name, make in sorted(RECIPES.items())}
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps({"environment": environment(), "recipes": out}, indent=1, sort_keys=True) + "\n")
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: PYTHONPATH=src python tests/test_fingerprints.py --record")
    record()

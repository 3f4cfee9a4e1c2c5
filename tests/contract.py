"""The predictor contract as reusable checks, and a tiny configuration of every registered model.

Every check takes a ready predictor and raises ``AssertionError`` with a message naming the model and what
broke. :data:`TINY` maps a registry name to a :class:`Tiny` entry whose ``make(train)`` returns a ready tiny
predictor: count models and the coder are fitted on ``train``; torch models are random-initialised with a
fixed seed (then nudged so that every gate and mixing weight is active). A registered model without a table
entry is covered through a classmethod ``tiny(train)`` (see :class:`HasTiny`); :func:`tiny_spec` fails the
calling test when neither exists, so no registered model is silently left out.

Models are built through the registry (``model_class(name)``), never by importing their modules, so the
table does not depend on where a model's code lives.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pytest

from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.predictor import LN2, CausalPredictor
from decepticons.registry import load_model, model_class

#: bytes the tiny models are fitted on, and the bytes most checks score (held-out text, then random bytes)
TRAIN_BYTES = 4096
SAMPLE_TEXT = 200
SAMPLE_RANDOM = 56
#: positions t at which the causality check perturbs bytes ``x[t:]``
CAUSAL_POSITIONS = (0, 1, 17, 100, SAMPLE_TEXT + SAMPLE_RANDOM - 1)
CHUNK_SIZES = (1, 7, 64, None)  # None: the whole input as one chunk

#: tolerances (see :class:`Tiny`): float64 models must agree exactly or within rounding
F64 = dict(parity=1e-6, chunks=0.0, causal=0.0, norm=1e-9)
#: float32 torch models: batched and step-by-step paths round differently (float32 accumulation in other
#: orders), so agreement is up to float32 rounding, amplified by the depth of the network
F32 = dict(parity=1e-5, chunks=1e-4, causal=1e-5, norm=1e-9)

#: the long-input check: bits/byte of the last quarter may exceed the first quarter's by at most this much
LONG_MARGIN = 0.25
LONG_BYTES = 256 * 1024


@cache
def corpus() -> tuple[np.ndarray, np.ndarray]:
    train, valid = embedded_corpus()
    return np.asarray(train), np.asarray(valid)


def train_bytes() -> np.ndarray:
    return corpus()[0][:TRAIN_BYTES].copy()


def sample_bytes() -> np.ndarray:
    """Held-out text followed by random bytes (unseen contexts, every byte value likely)."""
    rng = np.random.default_rng(1234)
    text = corpus()[1][:SAMPLE_TEXT]
    return np.concatenate([text, rng.integers(0, 256, SAMPLE_RANDOM).astype(np.uint8)])


def long_bytes(n: int) -> np.ndarray:
    """``n`` bytes of real text (the demo training corpus from its start, then the held-out plays)."""
    train, valid = corpus()
    text = np.concatenate([train, valid])
    assert n <= len(text), f"the demo corpus has {len(text)} bytes, {n} asked"
    return text[:n].copy()


# ----------------------------------------------------------------------------- tiny configurations
@dataclass(frozen=True)
class Tiny:
    """How the harness builds and judges one model.

    ``make(train)`` returns a ready predictor; ``tol`` holds the tolerances (``parity``: max abs probability
    difference stream vs log_probs; ``chunks``: max abs log-probability difference chunked vs whole;
    ``causal``: max abs log-probability change of rows <= t; ``norm``: max abs logsumexp of a row);
    ``adaptive``: whether the tiny model keeps learning while it scores (checked); ``long_bytes``: input
    length of the long-input check; ``long_xfail``: reason a known long-input failure is expected;
    ``needs``: optional packages (the tests skip, saying so, when one is missing); ``slow``: mark the
    model's long check ``slow``.
    """

    make: Callable[[np.ndarray], CausalPredictor]
    tol: dict[str, float]
    adaptive: bool | None = None
    long_bytes: int = LONG_BYTES
    long_xfail: str | None = None
    needs: tuple[str, ...] = ()
    slow: bool = False


def _fitted(name: str, **config: Any) -> Callable[[np.ndarray], CausalPredictor]:
    def make(train: np.ndarray) -> CausalPredictor:
        model = model_class(name)(**config)
        model.fit(train)
        return model
    return make


def nudge_parameters(module: Any, seed: int, scale: float = 0.2) -> None:
    """Add seeded noise to every parameter of a torch module (zero-initialised gates would hide parts)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def _causal_bank(train: np.ndarray) -> CausalPredictor:
    cls = model_class("causal-bank")
    model = cls(cls.config_cls.variant("tiny", state_dim=2), seed=3)
    nudge_parameters(model.module, seed=4)
    return model


#: tiny PlatoMythos: windows of 16 bytes (stride 8), 3 loops, 2 rooms
MYTHOS_TINY: dict[str, Any] = dict(d_model=32, num_heads=2, d_kv_latent=8, rope_dim=4, qk_nope_dim=12, expert_dim=16,
                                   ffn_dim=32, max_seq_len=16, max_loop_depth=3, num_rooms=2, curriculum_steps=4)
#: halting-head bias that makes a random head halt some positions and not others
MYTHOS_HALT_BIAS = -6.7


def _mythos(train: np.ndarray) -> CausalPredictor:
    import torch

    model = model_class("mythos")(seed=0, **MYTHOS_TINY)
    with torch.no_grad():
        model.module.act.head[2].bias.fill_(MYTHOS_HALT_BIAS)
    return model


TINY: dict[str, Tiny] = {
    "backoff": Tiny(_fitted("backoff", orders=3), F64, adaptive=True),
    "causal-bank": Tiny(_causal_bank, F32, adaptive=False, needs=("torch",), long_bytes=64 * 1024),
    "coder": Tiny(_fitted("coder", max_order=3, chunk_size=512), F64, adaptive=False),
    "exact-context": Tiny(_fitted("exact-context", order=2), F64, adaptive=True),
    "mixer": Tiny(_fitted("mixer", orders=3, match_min=4), F64, adaptive=True),
    "mythos": Tiny(_mythos, F32, adaptive=False, needs=("torch",), long_bytes=8 * 1024),
    "ngram": Tiny(_fitted("ngram", orders=4), F64, adaptive=True),
    "online-ngram": Tiny(_fitted("online-ngram", orders=3, max_total=8), F64, adaptive=True),
}

"""Models by name. Built-ins live here; other packages add models through the ``decepticons.models``
entry-point group (``plato_mythos`` registers ``mythos`` that way), so the kernel never imports them."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from .errors import InputError, ModelFileError

ENTRY_POINT_GROUP = "decepticons.models"

_BUILTIN: dict[str, str] = {
    "coder": "decepticons.coder:ByteLatentPredictiveCoder",
    "ngram": "decepticons.memory.ngram:NGramPredictor",
    "exact-context": "decepticons.memory.exact_context:ExactContextPredictor",
    "backoff": "decepticons.memory.backoff:BackoffPredictor",
    "online-ngram": "decepticons.memory.online:OnlineNGramPredictor",
    "mixer": "decepticons.mixer:MixerPredictor",
    "causal-bank": "decepticons.causal_bank.predictor:CausalBankPredictor",
    "transformer": "decepticons.transformer.predictor:TransformerPredictor",
}


def _entry_point_targets() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_models() -> list[str]:
    """Names accepted by ``--model``: the built-ins plus installed entry points."""
    return sorted(set(_BUILTIN) | set(_entry_point_targets()))


def model_class(name: str) -> Any:
    """Import and return the class registered as ``name``."""
    targets = {**_entry_point_targets(), **_BUILTIN}
    if name not in targets:
        raise InputError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    module, _, attr = targets[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        if (e.name or "").split(".")[0] in ("decepticons", "plato_mythos"):
            raise  # a bug or a missing module of ours, not a missing optional dependency
        raise InputError(f"model {name!r} needs a package that is not installed ({e.name or e}); "
                         f"see the README's install section") from None
    return getattr(mod, attr)


def load_model(path: Any, expected_kind: str | None = None) -> Any:
    """Load any saved model, dispatching on the kind recorded in the file."""
    from .runtime.checkpoints import read_model_file

    mf = read_model_file(path, expected_kind=expected_kind)
    try:
        cls = model_class(mf.kind)
    except InputError as e:
        raise ModelFileError(f"{path}: {e}") from None
    return cls.from_model_file(mf)

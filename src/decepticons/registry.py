"""Models by name. Built-ins live here; other packages add models through the ``decepticons.models``
entry-point group (``plato_mythos`` registers ``mythos`` that way), so the kernel never imports them.
Code can also add a model at run time with :func:`register` (or, for a test, the :func:`registered`
context manager), naming either a ``"module:attr"`` target, imported on first use, or the class itself."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from .errors import InputError, ModelFileError
from .predictor import CausalPredictor

ENTRY_POINT_GROUP = "decepticons.models"

_BUILTIN: dict[str, str] = {
    "coder": "decepticons.coder:ByteLatentPredictiveCoder",
    "ngram": "decepticons.memory.ngram:NGramPredictor",
    "exact-context": "decepticons.memory.exact_context:ExactContextPredictor",
    "backoff": "decepticons.memory.backoff:BackoffPredictor",
    "online-ngram": "decepticons.memory.online:OnlineNGramPredictor",
    "mixer": "decepticons.mixer:MixerPredictor",
    "cm": "decepticons.cm:CMPredictor",
    "causal-bank": "decepticons.causal_bank.predictor:CausalBankPredictor",
    "transformer": "decepticons.transformer.predictor:TransformerPredictor",
    "frozen-readout": "decepticons.readouts.expert:FrozenReadoutExpert",
    "causal-adapter": "decepticons.adapters.causal:CausalPredictiveAdapter",
    "oracle": "decepticons.adapters.oracle:OracleAnalysisAdapter",
}


#: models added at run time by :func:`register`: name -> ``"module:attr"`` or the class
_REGISTERED: dict[str, str | type[CausalPredictor]] = {}


def _entry_point_targets() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _targets() -> dict[str, str | type[CausalPredictor]]:
    return {**_entry_point_targets(), **_REGISTERED, **_BUILTIN}


def available_models() -> list[str]:
    """Names accepted by ``--model``: the built-ins, installed entry points and :func:`register` ed models."""
    return sorted(_targets())


def register(name: str, target: str | type[CausalPredictor]) -> None:
    """Make ``name`` a model name for :func:`model_class`, :func:`load_model` and ``--model``.

    ``target`` is ``"package.module:ClassName"`` (imported when first asked for) or a
    :class:`~decepticons.predictor.CausalPredictor` subclass. A name already taken (built-in, entry point or
    registered) is refused: :func:`unregister` it first.
    """
    if not isinstance(name, str) or not name or name != name.strip() or any(c.isspace() for c in name):
        raise InputError(f"a model name must be a non-empty string without spaces, got {name!r}")
    if isinstance(target, str):
        module, sep, attr = target.partition(":")
        if not (module and sep and attr):
            raise InputError(f"a model target must look like 'package.module:ClassName', got {target!r}")
    elif not (isinstance(target, type) and issubclass(target, CausalPredictor)):
        raise InputError(f"a model target must be a 'module:attr' string or a CausalPredictor subclass, "
                         f"got {target!r}")
    if name in _targets():
        raise InputError(f"model name {name!r} is already taken")
    _REGISTERED[name] = target


def unregister(name: str) -> None:
    """Remove a model added by :func:`register` (built-ins and entry points cannot be removed)."""
    if name not in _REGISTERED:
        raise InputError(f"model {name!r} was not added by register()")
    del _REGISTERED[name]


@contextmanager
def registered(name: str, target: str | type[CausalPredictor]) -> Iterator[None]:
    """``register(name, target)`` for the duration of a ``with`` block (tests, scripts)."""
    register(name, target)
    try:
        yield
    finally:
        unregister(name)


def model_class(name: str) -> Any:
    """Import and return the class registered as ``name``."""
    targets = _targets()
    if name not in targets:
        raise InputError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    target = targets[name]
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
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

"""Compute backends of the gradient-trained models: ``torch`` (every such model) and ``mlx`` (the causal bank).

:func:`load_model` reads any model file on the chosen backend: ``torch`` is the registry's own loader (every
model kind, numpy models included); ``mlx`` gives the model kinds of :data:`MLX_KINDS` through the same
predictor contract (:class:`~decepticons.causal_bank.predictor_mlx.MLXCausalBankPredictor`). A kind without an
MLX implementation, or a machine without MLX, is an :class:`~decepticons.errors.InputError`. Nothing here
imports torch or MLX until a model is loaded.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from typing import Any

from .errors import InputError

#: ``--backend`` choices (the first is the default)
BACKENDS = ("torch", "mlx")
#: model kinds with an MLX implementation
MLX_KINDS = ("causal-bank",)
MLX_INSTALL_HINT = ('the MLX backend needs the mlx package, which is not installed here (pip install "mlx[cpu]" '
                    "on Linux, pip install mlx on Apple silicon)")


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS` and installed, else an :class:`InputError`."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "mlx" and find_spec("mlx") is None:
        raise InputError(MLX_INSTALL_HINT)
    return backend


def check_mlx_kind(kind: str) -> None:
    """Refuse a model kind that has no MLX implementation."""
    if kind not in MLX_KINDS:
        raise InputError(f"model kind {kind!r} has no MLX implementation (MLX runs: {', '.join(MLX_KINDS)}); "
                         "use --backend torch")


def load_model(path: str | os.PathLike[str], backend: str = "torch") -> Any:
    """The model saved at ``path``, computed by ``backend`` (module docstring)."""
    from .registry import load_model as load_any

    if check_backend(backend) == "torch":
        return load_any(path)
    from .runtime.checkpoints import read_model_file

    mf = read_model_file(path)
    check_mlx_kind(mf.kind)
    if find_spec("torch") is None:
        raise InputError("the MLX backend checks model files against the torch model of their configuration; "
                         "it needs torch installed beside mlx (pip install torch)")
    from .causal_bank.predictor_mlx import MLXCausalBankPredictor

    return MLXCausalBankPredictor.from_model_file(mf)


def backend_of(model: Any) -> str:
    """The backend that computes ``model``'s predictions (``mlx``, else ``torch`` / numpy: ``default``)."""
    return "mlx" if getattr(model, "backend", None) == "mlx" else "default"


__all__ = ["BACKENDS", "MLX_KINDS", "backend_of", "check_backend", "check_mlx_kind", "load_model"]

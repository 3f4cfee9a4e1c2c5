"""decepticons: byte-level predictive sequence modelling.

The kernel needs numpy only; the torch and mlx backends (``decepticons.training``, the causal bank's model
modules) are imported only when a model that needs them is used.
Everything that predicts implements one contract (:class:`CausalPredictor`): ``log_probs`` and ``stream``.
"""

from __future__ import annotations

from typing import Any

from .codecs import ByteCodec
from .errors import CompressedFileError, DecepticonsError, InputError, ModelFileError
from .predictor import CausalPredictor, Stream, generate, score
from .registry import available_models, load_model, model_class
from .runtime.reports import FitReport, ScoreReport
from .version import __version__

_LAZY = {
    "ByteLatentPredictiveCoder": ("decepticons.coder", "ByteLatentPredictiveCoder"),
    "CoderConfig": ("decepticons.coder", "CoderConfig"),
    "compress": ("decepticons.coding", "compress"),
    "decompress": ("decepticons.coding", "decompress"),
    # control, views and readouts, under the names of the 0.1.x package
    **{n: ("decepticons.control", n) for n in (
        "ControllerSummary", "ControllerSummaryBuilder", "HormoneModulator", "LearnedSegmenter",
        "PathwayGateController", "PredictiveSurpriseController", "SummaryRouter")},
    **{n: ("decepticons.views", n) for n in (
        "ByteLatentFeatureView", "HierarchicalFeatureView", "LatentCommitter", "LinearMemoryFeatureView",
        "bridge_feature_arrays", "probability_diagnostics")},
    **{n: ("decepticons.readouts", n) for n in ("FrozenReadoutExpert", "SampledMultiscaleReadout")},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'decepticons' has no attribute {name!r}")


__all__ = [
    "ByteCodec", "ByteLatentPredictiveCoder", "CausalPredictor", "CoderConfig", "CompressedFileError",
    "DecepticonsError", "FitReport", "InputError", "ModelFileError", "ScoreReport", "Stream",
    "available_models", "compress", "decompress", "generate", "load_model", "model_class", "score",
    "__version__",
    "ControllerSummary", "ControllerSummaryBuilder", "HormoneModulator", "LearnedSegmenter", "PathwayGateController",
    "PredictiveSurpriseController", "SummaryRouter", "ByteLatentFeatureView", "HierarchicalFeatureView",
    "LatentCommitter", "LinearMemoryFeatureView", "bridge_feature_arrays", "probability_diagnostics",
    "FrozenReadoutExpert", "SampledMultiscaleReadout",
]

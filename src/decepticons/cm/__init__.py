"""The bit-level context mixer (registry name ``cm``): :class:`CMPredictor`, its stream and options
(:class:`CMConfig`, presets), kernels (:mod:`.contexts`, :mod:`.nodes`, :mod:`.learn`, :mod:`.kernels`) and
sparse persistence (:mod:`.persist`)."""

from __future__ import annotations

from .config import CONTEXT_KINDS, PRESETS, CMConfig
from .predictor import CMPredictor, CMStream

__all__ = ["CONTEXT_KINDS", "PRESETS", "CMConfig", "CMPredictor", "CMStream"]

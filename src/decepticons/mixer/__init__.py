"""The context mixer (registry name ``mixer``): :class:`MixerPredictor` and its stream, options
(:class:`MixerConfig`) and per-position kernels (:mod:`.kernels`, :mod:`.mix`, :mod:`.match`, :mod:`.apm`)."""

from __future__ import annotations

from .config import MixerConfig
from .predictor import DOC_RESET, MATCH_TABLE, MixerPredictor, MixerStream

__all__ = ["DOC_RESET", "MATCH_TABLE", "MixerConfig", "MixerPredictor", "MixerStream"]

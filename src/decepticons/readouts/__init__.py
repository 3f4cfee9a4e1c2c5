"""Readouts: closed-form predictors and feature maps read from frozen substrates.

- ``expert.py``: :class:`FrozenReadoutExpert` (registered as ``frozen-readout``), frozen substrate + view +
  ridge readout, optionally several routes weighted by a summary router; a predictor and a mixer expert
- ``sampled.py``: :class:`SampledMultiscaleReadout`, deterministic sampled indices per band plus band statistics

The ridge solver itself is ``decepticons.coder.ridge``. Names load lazily (``views.sampled`` imports
``readouts.sampled`` while ``readouts.expert`` imports the views).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"FrozenReadoutExpert": "expert", "FrozenReadoutConfig": "expert", "SampledMultiscaleReadout": "sampled",
         "SampledReadoutConfig": "sampled"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)

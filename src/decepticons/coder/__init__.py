"""The byte-latent predictive coder: a frozen substrate and a feature view, an exact-context count view, and a
calibrated closed-form readout.

- ``model.py``: :class:`ByteLatentPredictiveCoder` and :class:`CoderConfig` (fit, score, stream, persistence)
- ``context_counts.py``: the exact-context count view (hashed context tables, interpolated Kneser-Ney chain)
- ``ridge.py``: the ridge readout from additive sufficient statistics, with temperature calibration
- ``search.py``: golden-section search used to choose hyper-parameters on held-out bytes

The model loads lazily, so the readouts can use ``coder.ridge`` without importing the coder (and the views).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ByteLatentPredictiveCoder", "CoderConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(f"{__name__}.model"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

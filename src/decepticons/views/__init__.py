"""Views: causal feature sources over a frozen substrate, read by a closed-form readout.

A view maps bytes to feature rows, row t predicting byte t from bytes < t (see ``base.FeatureView``):

- ``base.py``: :class:`FeatureView` (the interface) and :class:`StateView` (the substrate state itself)
- ``byte_latent.py``: :class:`ByteLatentFeatureView`, learned patches, a committed latent per patch (``latent.py``:
  :class:`LatentCommitter`), within-patch residuals
- ``hierarchical.py``: :class:`HierarchicalFeatureView`, gated fast/mid/slow levels, pooled and cross-level features
- ``linear_memory.py``: :class:`LinearMemoryFeatureView`, per-band statistics of a decay bank, hormone gains
- ``sampled.py``: :class:`SampledMultiscaleView`, sampled state indices per band plus band statistics
- ``presets.py``: view names, coder presets, :func:`make_view`
- ``bridge.py``: :func:`bridge_feature_arrays`, features of other predictors' probability records
- ``diagnostics.py``: entropy, top-k mass, margins and agreement of probability records

Names load lazily, so low-level modules can import ``views.diagnostics`` without the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FeatureView": "base", "StateView": "base", "LatentCommitter": "latent", "ByteLatentFeatureView": "byte_latent",
    "HierarchicalFeatureView": "hierarchical", "LinearMemoryFeatureView": "linear_memory",
    "SampledMultiscaleView": "sampled", "VIEWS": "presets", "PRESETS": "presets", "make_view": "presets",
    "bridge_feature_arrays": "bridge", "BridgeFeatureArrays": "bridge",
    "probability_diagnostics": "diagnostics", "ProbabilityDiagnostics": "diagnostics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)

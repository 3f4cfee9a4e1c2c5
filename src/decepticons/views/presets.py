"""View names and named configurations.

:data:`VIEWS` maps a view name to its class (each has a ``config_cls``; ``state`` takes no options).
:data:`PRESETS` maps a preset name to the substrate and view settings it stands for; the coder
(``ByteLatentPredictiveCoder(preset=...)``) and :class:`~decepticons.readouts.expert.FrozenReadoutExpert`
routes read them.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import InputError
from ..substrates import Substrate
from .base import FeatureView, StateView
from .byte_latent import ByteLatentFeatureView
from .hierarchical import HierarchicalFeatureView
from .linear_memory import LinearMemoryFeatureView
from .sampled import SampledMultiscaleView

VIEWS: dict[str, type[FeatureView]] = {
    "state": StateView,
    "byte_latent": ByteLatentFeatureView,
    "hierarchical": HierarchicalFeatureView,
    "linear_memory": LinearMemoryFeatureView,
    "sampled": SampledMultiscaleView,
}

#: preset name -> substrate / view settings (keys of the coder's configuration)
PRESETS: dict[str, dict[str, Any]] = {
    "state": {"view": "state"},
    "byte_latent": {"view": "byte_latent"},
    "hierarchical": {"substrate": "hierarchical", "view": "hierarchical"},
    "linear_memory": {"substrate": "linear_memory", "view": "linear_memory"},
    # a 768-wide bank (24 decays x 32 channels) read through 8 samples and 3 statistics per decay
    "sampled": {"substrate": "linear_memory", "substrate_options": {"n_decays": 24, "embed_dim": 32},
                "view": "sampled", "view_options": {"readout": {"samples": 8}}},
}


def view_substrates(kind: str) -> tuple[str, ...] | None:
    """Substrate kinds view ``kind`` reads (``None``: any)."""
    if kind not in VIEWS:
        raise InputError(f"unknown view {kind!r}; views: {', '.join(VIEWS)}")
    return VIEWS[kind].substrates


def make_view(kind: str, substrate: Substrate, options: dict[str, Any] | None = None) -> FeatureView:
    """Build view ``kind`` over ``substrate`` with config ``options``; unknown names or options raise
    ``InputError``."""
    view_substrates(kind)
    cls = VIEWS[kind]
    opts = dict(options or {})
    if cls.config_cls is None:
        if opts:
            raise InputError(f"view {kind!r} takes no options, got {sorted(opts)}")
        return cls(substrate)
    return cls(substrate, cls.config_cls.from_dict(opts))


def preset(name: str) -> dict[str, Any]:
    """The settings of preset ``name`` (a copy)."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])

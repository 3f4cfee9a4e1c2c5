"""Substrates: frozen causal dynamical systems that turn bytes into states (see ``base.Substrate``)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..errors import InputError
from ._scan import linear_scan
from .base import Substrate
from .delay import DelayConfig, DelaySubstrate
from .echo_state import EchoStateConfig, EchoStateSubstrate
from .hierarchical import HierarchicalConfig, HierarchicalSubstrate
from .linear_memory import LinearMemoryConfig, LinearMemorySubstrate
from .mixed import MixedConfig, MixedSubstrate
from .oscillatory import OscillatoryConfig, OscillatorySubstrate

SUBSTRATES: dict[str, tuple[type[Substrate], type]] = {
    "echo_state": (EchoStateSubstrate, EchoStateConfig),
    "delay": (DelaySubstrate, DelayConfig),
    "linear_memory": (LinearMemorySubstrate, LinearMemoryConfig),
    "oscillatory": (OscillatorySubstrate, OscillatoryConfig),
    "mixed": (MixedSubstrate, MixedConfig),
    "hierarchical": (HierarchicalSubstrate, HierarchicalConfig),
}


#: option names of earlier releases, still accepted (model files store the options as given)
LEGACY_OPTION_NAMES = {"min_half_life": "half_life_min", "max_half_life": "half_life_max"}


def make_substrate(kind: str, seed: int = 0, **options: Any) -> Substrate:
    """Build a substrate by name with config overrides; unknown names or options raise ``InputError``."""
    if kind not in SUBSTRATES:
        raise InputError(f"unknown substrate {kind!r}; choose from {', '.join(SUBSTRATES)}")
    cls, cfg_cls = SUBSTRATES[kind]
    options = {LEGACY_OPTION_NAMES.get(k, k): v for k, v in options.items()}
    names = {f.name for f in fields(cfg_cls)}
    bad = sorted(set(options) - names)
    if bad:
        raise InputError(f"substrate {kind!r} has no option(s) {bad}; options: {sorted(names)}")
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return cls(cfg_cls(**{**opts, "seed": seed}))


__all__ = ["SUBSTRATES", "Substrate", "linear_scan", "make_substrate", "DelaySubstrate", "EchoStateSubstrate",
           "HierarchicalSubstrate", "LinearMemorySubstrate", "MixedSubstrate", "OscillatorySubstrate"]

"""CausalPredictiveAdapter (registry name ``causal-adapter``): the standard causal composition in one object.

A configuration (:class:`CausalAdapterConfig`) lists components, registered model kinds with their options
(memories, the coder, frozen-readout experts, ... see :mod:`.components`), and the options of the context
mixer that combines them. The adapter builds::

    MixerPredictor(**mixer, experts=[build(component) for component in components])

so at position t the mixer's own inputs (n-gram orders, word / document contexts, match model) are mixed
geometrically into ``log p_base(. | x_<t)`` and the expert stage mixes that with every component's
``log q_j(. | x_<t)`` (:mod:`decepticons.mixer.experts`)::

    log p_t(c) = U_0 log p_base(c) + sum_j U_j log q_j(c) - log Z_t        (then the APM)

Each component is fitted by the mixer's ``fit`` (forward folds, :mod:`decepticons.mixer.folds`), so a
descendant builds a fitted, saved, scored predictor from a configuration without writing glue::

    decepticons fit --model causal-adapter --config 'components=[{"kind": "coder", "config": {"max_order": 3}}]'

Shapes: ``log_probs(uint8[T]) -> float64[T, 256]``; the stream, chunked scoring and coding frequencies are
the mixer's. A non-causal component (``causal = False``) is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike
from ..errors import InputError
from ..mixer.config import MixerConfig
from ..mixer.predictor import MixerPredictor
from ..predictor import CausalPredictor, Stream
from ..runtime.reports import FitReport
from ..validation import Spec, Validated, spec
from .components import build_component, check_component


@dataclass
class CausalAdapterConfig(Validated):
    """Options of :class:`CausalPredictiveAdapter`."""

    components: tuple[dict[str, Any], ...] = spec((), max_len=16, items=Spec(kind="dict"),
                                                  doc='experts, each {"kind": MODEL_NAME, "config": {...}}')
    mixer: dict[str, Any] = spec(default_factory=dict, doc="options of the context mixer (MixerConfig fields)")

    def check(self) -> None:
        owner = type(self).__name__
        comps = tuple(check_component(owner, f"components[{i}]", c) for i, c in enumerate(self.components))
        object.__setattr__(self, "components", comps)
        if "experts" in self.mixer:
            raise InputError(f"{owner}.mixer cannot hold experts; list them in {owner}.components")
        MixerConfig.from_dict(self.mixer)  # every mixer option checked here, with the mixer's own messages

    def to_dict(self) -> dict[str, Any]:
        return {"components": [dict(c) for c in self.components], "mixer": dict(self.mixer)}


class CausalPredictiveAdapter(CausalPredictor):
    """Components mixed by the context mixer, declared by :class:`CausalAdapterConfig` (module docstring)."""

    name: ClassVar[str] = "causal-adapter"
    config_class: ClassVar[type] = CausalAdapterConfig

    def __init__(self, config: CausalAdapterConfig | None = None, *, seed: int = 0, use_numba: bool = True,
                 **options: Any) -> None:
        base = dataclasses.asdict(config) if config is not None else {}
        self.config = CausalAdapterConfig.from_dict({**base, **options})
        self.seed = int(seed)
        experts = [build_component(c, seed=seed, what="a causal-adapter component")
                   for c in self.config.components]
        self.mixer = MixerPredictor(experts=experts, use_numba=use_numba, seed=seed, **self.config.mixer)

    @classmethod
    def tiny(cls, train: np.ndarray) -> CausalPredictiveAdapter:
        """Two small components (an order-1 exact-context memory and a small coder) over a small mixer."""
        model = cls(components=[{"kind": "exact-context", "config": {"order": 1}},
                                {"kind": "coder", "config": {"max_order": 2, "chunk_size": 512}}],
                    mixer={"orders": 3, "match_min": 4})
        model.fit(train)
        return model

    # ------------------------------------------------------------------ properties
    @property
    def components(self) -> list[CausalPredictor]:
        """The built components (the mixer's experts), in configuration order."""
        return list(self.mixer.experts)

    @property
    def adaptive(self) -> bool:  # type: ignore[override]
        return self.mixer.adaptive

    @property
    def context_length(self) -> int | None:  # type: ignore[override]
        return self.mixer.context_length

    # ------------------------------------------------------------------ fit and contract
    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """Fit the mixer and its components (see :meth:`MixerPredictor.fit`); the report names this adapter."""
        report = self.mixer.fit(data, valid=valid, workers=workers, progress=progress)
        report.model = self.name
        report.details["components"] = [c["kind"] for c in self.config.components]
        self.mixer.fit_info = {**self.mixer.fit_info, "model": self.name}
        return report

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return self.mixer.log_probs(data)

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        return self.mixer.iter_log_probs(data, chunk_size=chunk_size)

    def target_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16,
                         progress: bool | None = None) -> np.ndarray:
        return self.mixer.target_log_probs(data, chunk_size=chunk_size, progress=progress)

    def coding_freq_blocks(self, data: BytesLike, chunk: int) -> Iterator[np.ndarray]:
        """The mixer's batched coding frequencies (equal to the stream's, step by step)."""
        return self.mixer.coding_freq_blocks(data, chunk)

    def stream(self) -> Stream:
        return self.mixer.stream()

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def state_tensors(self) -> dict[str, np.ndarray]:
        return self.mixer.state_tensors()

    def extra_state(self) -> dict[str, Any]:
        return self.mixer.extra_state()

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> CausalPredictiveAdapter:
        model = cls(**config)
        inner = model.mixer.config_dict()  # the mixer's options as its own files store them, experts included
        model.mixer = MixerPredictor.from_state(inner, tensors, extra)
        return model

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(self.config.to_dict())
        d["inputs"] = self.mixer.input_names()
        return d

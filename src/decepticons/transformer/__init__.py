"""A nanoGPT-style causal byte transformer, registered as ``transformer``: the attention baseline the causal
bank is measured against, trained by the same trainer.

* :mod:`.config` — :class:`TransformerConfig` (validated), parameter counting and matching (no torch);
* :mod:`.model` — :class:`~.model.ByteTransformer`, the torch module;
* :mod:`.predictor` — :class:`~.predictor.TransformerPredictor`, the module behind the predictor contract.
"""

from __future__ import annotations

from .config import TransformerConfig, count_parameters, matched_config

__all__ = ["TransformerConfig", "count_parameters", "matched_config"]

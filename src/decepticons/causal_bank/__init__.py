"""The causal-bank family: a bank of causal linear recurrences read out by a learned network.

* :mod:`.config` — :class:`CausalBankConfig`, the named variants and the deterministic substrate (numpy only;
  importing this package imports no torch);
* :mod:`.scans` — the linear-recurrence scans ``h_t = a_t * h_{t-1} + b_t`` (torch);
* :mod:`.model_torch` — :class:`~.model_torch.CausalBankModel`, the torch module (training and inference);
* :mod:`.model_mlx` — the same model in MLX (inference, same weights);
* :mod:`.predictor` — :class:`~.predictor.CausalBankPredictor`, registered as ``causal-bank``.
"""

from __future__ import annotations

from .config import (
    DECAY_SCHEDULES,
    INPUT_PROJECTIONS,
    LEARNS_DECAYS,
    LEARNS_MIXING,
    READOUT_KINDS,
    SUBSTRATE_MODES,
    VARIANTS,
    CausalBankConfig,
    Substrate,
    build_substrate,
    decay_from_half_life,
    describe_family,
    half_lives,
    input_projection,
    oscillatory_pairs,
)

__all__ = ["DECAY_SCHEDULES", "INPUT_PROJECTIONS", "LEARNS_DECAYS", "LEARNS_MIXING", "READOUT_KINDS",
           "SUBSTRATE_MODES", "VARIANTS", "CausalBankConfig", "Substrate", "build_substrate",
           "decay_from_half_life", "describe_family", "half_lives", "input_projection", "oscillatory_pairs"]

"""Adapters: ready compositions of the package's predictors for one purpose each.

* :class:`CausalPredictiveAdapter` (``causal-adapter``): components mixed by the context mixer, declared by a
  configuration (causal; a code).
* :class:`OracleAnalysisAdapter` (``oracle``): both sides of every byte, for analysis only (non-causal).
* :class:`NoncausalReconstructiveAdapter`: masked-span reconstruction from both sides, with its own metric.
"""

from __future__ import annotations

from .causal import CausalAdapterConfig, CausalPredictiveAdapter
from .masks import MaskConfig, check_spans, make_spans
from .oracle import OracleAnalysisAdapter, OracleConfig, OracleReport
from .reconstruct import NoncausalReconstructiveAdapter, ReconstructConfig, ReconstructionReport

__all__ = ["CausalAdapterConfig", "CausalPredictiveAdapter", "MaskConfig", "NoncausalReconstructiveAdapter",
           "OracleAnalysisAdapter", "OracleConfig", "OracleReport", "ReconstructConfig", "ReconstructionReport",
           "check_spans", "make_spans"]

"""Adapters: ready compositions of the package's predictors for one purpose each.

* :class:`CausalPredictiveAdapter` (``causal-adapter``): components mixed by the context mixer, declared by a
  configuration (causal; a code).
* :class:`OracleAnalysisAdapter` (``oracle``): both sides of every byte, for analysis only (non-causal).
* :class:`NoncausalReconstructiveAdapter`: masked-span reconstruction from both sides, with its own metric.
* bridge export (:mod:`.bridge`, :mod:`.bridge_file`): a teacher's per-position probability record over a
  corpus, written as a verified safetensors bridge file;
* paired teacher/export (:mod:`.teacher`): teacher -> student distillation through the shared trainer,
  with student-teacher agreement diagnostics.
"""

from __future__ import annotations

from .bridge import BridgeExportAdapter, BridgeExportConfig, ProbabilitySource
from .bridge_file import BridgeRecord, read_bridge_file
from .causal import CausalAdapterConfig, CausalPredictiveAdapter
from .masks import MaskConfig, check_spans, make_spans
from .oracle import OracleAnalysisAdapter, OracleConfig, OracleReport
from .reconstruct import NoncausalReconstructiveAdapter, ReconstructConfig, ReconstructionReport
from .teacher import TeacherExportAdapter, TeacherExportConfig

__all__ = ["BridgeExportAdapter", "BridgeExportConfig", "BridgeRecord", "CausalAdapterConfig",
           "CausalPredictiveAdapter", "MaskConfig", "NoncausalReconstructiveAdapter", "OracleAnalysisAdapter",
           "OracleConfig", "OracleReport", "ProbabilitySource", "ReconstructConfig", "ReconstructionReport",
           "TeacherExportAdapter", "TeacherExportConfig", "check_spans", "make_spans", "read_bridge_file"]

"""Adapters: compositions of the kernel's mechanisms behind one object each.

* bridge export (:mod:`.bridge`, :mod:`.bridge_file`): a teacher's per-position probability record over a
  corpus, written as a verified safetensors bridge file;
* paired teacher/export (:mod:`.teacher`): teacher -> student distillation through the shared trainer,
  with student-teacher agreement diagnostics.
"""

from __future__ import annotations

from .bridge import BridgeExportAdapter, BridgeExportConfig, ProbabilitySource
from .bridge_file import BridgeRecord, read_bridge_file
from .teacher import TeacherExportAdapter, TeacherExportConfig

__all__ = ["BridgeExportAdapter", "BridgeExportConfig", "BridgeRecord", "ProbabilitySource", "TeacherExportAdapter",
           "TeacherExportConfig", "read_bridge_file"]

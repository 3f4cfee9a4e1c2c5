"""``decepticons bench``: every model and the classic compressors on one corpus, one yardstick.

* :mod:`.compressors`: the classic compressors found in the standard library, installed packages or on
  ``PATH`` (gzip, bzip2, xz, zstd, brotli, PPMd, paq8px, zpaq) and their bits per byte on the held-out split.
* :mod:`.runner`: each model fitted on train and scored on valid through the predictor contract, both
  static (the model frozen, :func:`frozen`) and adaptive (prequential), plus a real compressed file.
* :mod:`.report`: the JSON payload, the Markdown table and the plot.
"""

from __future__ import annotations

from .compressors import Compressor, available_compressors, run_compressors
from .rows import BENCH_SCHEMA, BenchRow
from .runner import BenchConfig, frozen, run_bench, run_model

__all__ = ["BENCH_SCHEMA", "BenchConfig", "BenchRow", "Compressor", "available_compressors", "frozen", "run_bench",
           "run_model", "run_compressors"]

"""Statistical memories: exact-context experts, smoothed n-grams, fitted backoff, online n-grams, cache views.

Every memory is a :class:`~decepticons.predictor.CausalPredictor`; the per-byte work runs in numba kernels
when numba is installed and in an identical pure-Python reference path otherwise (``use_numba=False``).
"""

from __future__ import annotations

from .backoff import BackoffPredictor
from .cache import CacheView, MemoryRecord, build_cache_view
from .exact_context import ExactContextPredictor
from .ngram import NGramPredictor
from .online import OnlineNGramPredictor

__all__ = ["BackoffPredictor", "CacheView", "ExactContextPredictor", "MemoryRecord", "NGramPredictor",
           "OnlineNGramPredictor", "build_cache_view"]

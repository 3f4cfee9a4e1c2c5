"""Statistical memories: exact-context experts, smoothed n-grams, fitted backoff, online n-grams, cache views.

Every memory is a :class:`~decepticons.predictor.CausalPredictor`; the per-byte work runs in the kernels of
:mod:`.kernels`, compiled by numba when it is installed and interpreted otherwise (``use_numba=False``,
same arithmetic in the same order). Options are validated dataclasses (:mod:`.config`).
"""

from __future__ import annotations

from .backoff import BackoffPredictor
from .cache import CacheView, MemoryRecord, build_cache_view
from .config import BackoffConfig, CountConfig, ExactContextConfig, NGramConfig, OnlineNGramConfig
from .exact_context import ExactContextPredictor
from .ngram import NGramPredictor
from .online import OnlineNGramPredictor

__all__ = ["BackoffConfig", "BackoffPredictor", "CacheView", "CountConfig", "ExactContextConfig",
           "ExactContextPredictor", "MemoryRecord", "NGramConfig", "NGramPredictor", "OnlineNGramConfig",
           "OnlineNGramPredictor", "build_cache_view"]

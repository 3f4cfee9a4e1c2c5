"""Statistical memories: exact-context experts, smoothed n-grams, fitted backoff, online n-grams, cache views.

Every memory is a :class:`~decepticons.predictor.CausalPredictor`; the per-byte work runs in numba kernels
when numba is installed and in an identical pure-Python reference path otherwise.
"""

from __future__ import annotations

from .ngram import NGramPredictor

__all__ = ["NGramPredictor"]

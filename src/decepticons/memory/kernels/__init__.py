"""Per-byte kernels of the count memories, one mechanism per module (registered with
:func:`decepticons.jit.kernel`, compiled by numba when available, see :mod:`decepticons.jit`):

* :mod:`.tables` -- the hash table of contexts and their follower lists (probe, count, halve, rehash,
  compact); :class:`~.tables.TableArrays` and :class:`~.tables.CountParams`;
* :mod:`.contexts` -- the integer keys of the contexts a position reads (orders, word, sparse, line);
* :mod:`.chain` -- the escape chain turning counts into distributions (order 0 upward);
* :mod:`.see` -- the chain with learned escapes (secondary escape estimation);
* :mod:`.runs` -- the position loops of the n-gram, records and backoff models.
"""

from __future__ import annotations

from .chain import INFO_N, INFO_ROW, INFO_U, ChainBuffers
from .runs import REC_ARGMAX, backoff_run, ngram_fit_run, ngram_run, records_run
from .see import predict_orders_see, see_learn
from .tables import META_CONTEXTS, META_N0, META_NODES, META_U0, CountParams, TableArrays

__all__ = ["INFO_N", "INFO_ROW", "INFO_U", "META_CONTEXTS", "META_N0", "META_NODES", "META_U0", "REC_ARGMAX",
           "ChainBuffers", "CountParams", "TableArrays", "backoff_run", "ngram_fit_run", "ngram_run",
           "predict_orders_see", "records_run", "see_learn"]

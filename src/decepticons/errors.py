"""Error types. User mistakes raise these; the CLI prints them without a traceback."""

from __future__ import annotations


class DecepticonsError(Exception):
    """Base class for every error caused by user input rather than a bug."""


class InputError(DecepticonsError, ValueError):
    """Bad data or arguments: empty corpus, wrong dtype or shape, out-of-range values."""


class ModelFileError(DecepticonsError):
    """A model or checkpoint file is missing, truncated, corrupted or of another kind."""


class CompressedFileError(DecepticonsError):
    """A compressed file is truncated, corrupted, or was written with another model."""

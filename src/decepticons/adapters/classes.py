"""Byte classes of the per-class breakdowns: letters, digits, space, punctuation, newline, other.

``byte_classes(x: uint8[T]) -> uint8[T]`` indexes :data:`BYTE_CLASSES`: ASCII letters; ASCII digits; space
and tab; ASCII punctuation (``string.punctuation``); ``\\n`` and ``\\r``; everything else (control bytes and
every byte >= 128, i.e. the parts of non-ASCII UTF-8 characters).
"""

from __future__ import annotations

import string

import numpy as np

BYTE_CLASSES = ("letter", "digit", "space", "punctuation", "newline", "other")


def _table() -> np.ndarray:
    t = np.full(256, BYTE_CLASSES.index("other"), dtype=np.uint8)
    for chars, cls in ((string.ascii_letters, "letter"), (string.digits, "digit"), (" \t", "space"),
                       (string.punctuation, "punctuation"), ("\n\r", "newline")):
        t[[ord(c) for c in chars]] = BYTE_CLASSES.index(cls)
    return t


CLASS_OF_BYTE = _table()


def byte_classes(x: np.ndarray) -> np.ndarray:
    """``uint8[T]``: the class index (into :data:`BYTE_CLASSES`) of every byte of ``x``."""
    return CLASS_OF_BYTE[np.asarray(x, dtype=np.uint8)]


def per_class_means(classes: np.ndarray, **columns: np.ndarray) -> dict[str, dict[str, float]]:
    """``{class: {"bytes": n, column: mean over that class's positions, ...}}`` for every class present."""
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(BYTE_CLASSES):
        sel = classes == i
        n = int(sel.sum())
        if n:
            out[name] = {"bytes": n, **{k: float(v[sel].mean()) for k, v in columns.items()}}
    return out

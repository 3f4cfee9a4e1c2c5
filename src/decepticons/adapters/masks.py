"""Masked spans: a deterministic (seeded) generator and the checks every span list passes.

Spans are ``int64[S, 2]`` rows ``(start, end)``: bytes ``start .. end - 1`` are masked; rows are sorted,
non-empty, inside ``0..T`` and separated by at least one unmasked byte. :func:`make_spans` cuts ``0..T`` into
``S = round(fraction * T / mean_length)`` equal slots and puts one span in each, at a seeded offset that
keeps ``margin`` unmasked bytes at both ends of the slot. Lengths follow ``distribution``::

    fixed      L = span_length
    uniform    L ~ U{1, .., 2 span_length - 1}                  (mean span_length)
    geometric  L = 1 + G,  G ~ Geometric(1 / span_length) - 1   (mean about span_length; at most 4x)

A slot too short for its span gets a shorter span (at least one byte when the slot has room).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec

DISTRIBUTIONS = ("fixed", "uniform", "geometric")


@dataclass
class MaskConfig(Validated):
    """Options of :func:`make_spans`."""

    span_length: int = spec(4, lo=1, hi=4096, doc="span length (fixed) or mean span length")
    distribution: str = spec("fixed", choices=DISTRIBUTIONS, doc="span length distribution")
    fraction: float = spec(0.1, lo=0.0, hi=0.5, lo_open=True, doc="share of the bytes to mask (about)")
    margin: int = spec(1, lo=1, hi=1 << 16, doc="unmasked bytes kept at both ends of every span's slot")
    seed: int = spec(0, lo=0, hi=2**63 - 1, doc="seed of the span lengths and offsets")


def _lengths(rng: np.random.Generator, cfg: MaskConfig, n: int) -> np.ndarray:
    L = cfg.span_length
    if cfg.distribution == "fixed":
        return np.full(n, L, dtype=np.int64)
    if cfg.distribution == "uniform":
        return rng.integers(1, 2 * L, n).astype(np.int64)
    return np.minimum(rng.geometric(1.0 / L, n), 4 * L).astype(np.int64)


def make_spans(n: int, config: MaskConfig | None = None, **options: Any) -> np.ndarray:
    """``int64[S, 2]`` spans over ``n`` bytes (module docstring); options as keywords or a ``config``."""
    cfg = config if config is not None else MaskConfig.from_dict(options)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"cannot mask an input of {n!r} bytes; it must hold at least one byte")
    rng = np.random.default_rng(cfg.seed)
    count = max(1, int(round(cfg.fraction * n / cfg.span_length)))
    bounds = np.linspace(0, n, count + 1).astype(np.int64)
    lengths = _lengths(rng, cfg, count)
    out = []
    for (lo, hi), L in zip(zip(bounds[:-1], bounds[1:]), lengths):
        room = int(hi - lo) - 2 * cfg.margin
        L = min(int(L), room)
        if L < 1:
            continue
        start = int(lo) + cfg.margin + int(rng.integers(0, room - L + 1))
        out.append((start, start + L))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def check_spans(spans: Any, n: int) -> np.ndarray:
    """``spans`` as ``int64[S, 2]`` after checking they are sorted, non-empty, inside ``0..n`` and apart
    (at least one unmasked byte between two spans); else an :class:`InputError` naming the first bad row."""
    try:
        a = np.asarray(spans)
    except (TypeError, ValueError):
        raise InputError(f"spans must be an integer array of (start, end) rows, got {spans!r:.60}") from None
    if a.size == 0:
        raise InputError("no spans to reconstruct: give at least one (start, end) span")
    if a.ndim != 2 or a.shape[1] != 2 or not np.issubdtype(a.dtype, np.integer):
        raise InputError(f"spans must be an integer array of shape [S, 2] (start, end), got shape {a.shape} "
                         f"of {a.dtype}")
    a = a.astype(np.int64)
    for i, (s, e) in enumerate(a):
        if not 0 <= s < e <= n:
            raise InputError(f"span {i} = ({s}, {e}) is out of range: need 0 <= start < end <= {n} (the input's "
                             "length)")
        if i and s <= a[i - 1, 1]:
            raise InputError(f"span {i} = ({s}, {e}) overlaps or touches span {i - 1} = ({a[i - 1, 0]}, "
                             f"{a[i - 1, 1]}); spans must be sorted with an unmasked byte between them")
    return a


def parse_spans(text: str) -> np.ndarray:
    """``"10:14,30:35"`` -> ``[[10, 14], [30, 35]]`` (the command line's ``--spans``)."""
    rows = []
    for part in text.split(","):
        s, sep, e = part.strip().partition(":")
        try:
            rows.append((int(s), int(e)))
        except ValueError:
            raise InputError(f"--spans expects START:END[,START:END...], got {part.strip()!r}") from None
        if not sep:
            raise InputError(f"--spans expects START:END[,START:END...], got {part.strip()!r}")
    return np.asarray(rows, dtype=np.int64)

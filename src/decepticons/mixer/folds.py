"""Honest expert predictions for the mixer's ``fit``: every training byte predicted by a model not fitted on it.

An expert fitted on the bytes the mixer learns its weights on is over-confident there (an exact-context
memory has seen every context and its follower), so the mixer would learn to over-trust it and pay for that
on new text. The mixer's base learns prequentially (at byte t it knows ``x[:t]``), so the expert's honest
stand-in must know the past only, too: otherwise (cross-fitting, each fold predicted by a copy fitted on the
others, future included) the copy looks strong next to a base that has seen little, most of all on a small
corpus, and the weights learned there over-trust it on new text. With ``K`` folds, ``x: uint8[T]`` is cut into
contiguous folds ``F_k = x[s_k:e_k]`` (``s_k = k T // K``) and predicted forward::

    rows[s_k:e_k] = log_probs of copy_k on F_k,      copy_k = the expert (as it was before fit) fitted on x[:s_k]

for ``k = 1 .. K - 1``; the expert takes no part in the first fold (nothing before it to fit on: its weights
are not used there, nor learned). Then the expert itself is fitted on all of ``x`` for scoring. As at scoring
(the base keeps learning on the scored bytes, the expert stays as fitted), the copy knows the bytes before its
fold and the base knows every byte before t, so the stage learns the trust it will need; the copy is a little
staler than that, so the learned weights err towards the base.

Cost: ``K - 1`` fits on ``s_k`` bytes (``K = 2``: one fit on half of the bytes) and one pass predicting the
last ``(K - 1) / K`` of them, on top of the final fit; one copy of the expert in memory at a time. An adaptive
expert keeps learning while it predicts its fold (prequential, still honest: each byte is predicted before it
is learned).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..predictor import CausalPredictor


def fold_bounds(n: int, k: int) -> list[tuple[int, int]]:
    """``[(s_k, e_k)]``: ``k`` contiguous folds covering ``range(n)``; one fold (in-sample) when ``n < 2 k``."""
    if k <= 1 or n < 2 * k:
        return [(0, n)]
    cuts = [i * n // k for i in range(k + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def forward_rows(template: CausalPredictor, x: np.ndarray, k: int, chunk: int, workers: int = 1,
                 reports: list[dict[str, Any]] | None = None) -> Iterator[np.ndarray]:
    """``[n, 256]`` blocks covering ``x``: zeros over the first fold, then fold ``F_k`` predicted by a copy of
    ``template`` fitted on ``x[:s_k]`` (module docstring). Each copy is fitted when the blocks reach its fold
    and dropped after it. ``reports`` (when given) collects, per fold, the bytes fitted on and predicted and
    the seconds taken."""
    bounds = fold_bounds(len(x), k)
    if len(bounds) == 1:
        raise ValueError(f"{len(x)} bytes are too few for {k} folds")
    yield from zero_rows(bounds[0][1], chunk)
    for s, e in bounds[1:]:
        t0 = time.perf_counter()
        model = copy.deepcopy(template)
        model.fit(x[:s], workers=workers)  # type: ignore[attr-defined]
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        yield from model.iter_log_probs(x[s:e], chunk_size=chunk)
        if reports is not None:
            reports.append({"fold": [s, e], "fitted_bytes": s, "fit_seconds": fit_s,
                            "predict_seconds": time.perf_counter() - t0})
        del model


def stream_rows(model: CausalPredictor, x: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
    """``[n, 256]`` blocks of the rows ``model.stream()`` gives step by step over ``x`` (what the mixer's
    stream reads from the expert, bit for bit)."""
    st = model.stream()
    for s in range(0, len(x), chunk):
        block = x[s:s + chunk]
        out = np.empty((len(block), 256))
        for i, b in enumerate(block):
            out[i] = st.log_probs()
            st.push(int(b))
        yield out


def zero_rows(n: int, chunk: int) -> Iterator[np.ndarray]:
    """``[n, 256]`` zero blocks covering ``n`` positions (rows of an expert that takes no part)."""
    for s in range(0, n, chunk):
        yield np.zeros((min(chunk, n - s), 256))

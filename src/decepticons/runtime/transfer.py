"""Transfer probes: fit on corpus A, score on corpus B, against B fitted on itself.

For corpora ``C_1 .. C_n``, each with a train split ``T_i`` and a held-out split ``V_i``, one fresh model
``theta_i`` is fitted per train split and scored on every held-out split:

    bits[i, j] = (1 / |V_j|) * sum_t -log2 p_{theta_i}(v_t | v_<t),   v = V_j        (float[n, n])
    gap[i, j]  = bits[i, j] - bits[j, j]                                             (float[n, n])

The diagonal ``bits[j, j]`` is the ordinary held-out figure of a model fitted on ``C_j``; ``gap[i, j]`` is
what fitting on ``C_i`` instead costs on ``C_j`` (zero on the diagonal; usually positive elsewhere). An
adaptive model (``model.adaptive``, e.g. ``online-ngram``) keeps learning while it scores, so its off-diagonal
cells also measure how fast it adapts to the new corpus; every cell starts from the same fitted state,
because scoring does not change a fitted model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..codecs import as_byte_array
from ..errors import InputError
from .reports import Report, fmt


@runtime_checkable
class Fittable(Protocol):
    """A predictor fitted in closed form on bytes (``coder``, the memories, the mixer, ...)."""

    def fit(self, data: Any, valid: Any = None, workers: int = 1) -> Any: ...

    def score(self, data: Any, trace: bool = False, progress: bool | None = None) -> Any: ...


@dataclass
class TransferReport(Report):
    """An ``n x n`` matrix of held-out bits per byte: row = corpus fitted on, column = corpus scored on."""

    model: str
    corpora: list[str]
    train_bytes: dict[str, int]
    valid_bytes: dict[str, int]
    bits_per_byte: list[list[float]]
    fit_seconds: dict[str, float] = field(default_factory=dict)
    score_seconds: dict[str, float] = field(default_factory=dict)
    #: the model keeps learning while it scores (so off-diagonal cells include adaptation to B)
    adaptive: bool = False

    @property
    def matrix(self) -> np.ndarray:
        """``float64[n, n]``: ``bits[i, j]``, fitted on ``corpora[i]``, scored on ``corpora[j]``'s held-out split."""
        return np.asarray(self.bits_per_byte, dtype=np.float64)

    @property
    def self_fit(self) -> dict[str, float]:
        """``bits[j, j]`` by corpus name: each corpus scored by the model fitted on its own train split."""
        m = self.matrix
        return {name: float(m[j, j]) for j, name in enumerate(self.corpora)}

    @property
    def gap(self) -> np.ndarray:
        """``float64[n, n]``: ``bits[i, j] - bits[j, j]`` (the transfer gap; zero on the diagonal)."""
        m = self.matrix
        return m - np.diag(m)[None, :]

    def cell(self, fitted_on: str, scored_on: str) -> float:
        """``bits[i, j]`` by names."""
        return float(self.matrix[self.corpora.index(fitted_on), self.corpora.index(scored_on)])

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["gap"] = self.gap.tolist()
        d["self_bits_per_byte"] = self.self_fit
        return d

    def to_markdown(self, digits: int = 3) -> str:
        """A Markdown table: one row per corpus fitted on, one column per corpus scored on, then the mean gap.

        Diagonal cells show the self-fit figure; the others show ``bits (+gap)``.
        """
        m, g = self.matrix, self.gap
        n = len(self.corpora)
        head = ("| fitted on \\ scored on | " + " | ".join(f"`{c}`" for c in self.corpora)
                + " | mean gap elsewhere |")
        lines = [head, "|---" * (n + 2) + "|"]
        for i, a in enumerate(self.corpora):
            cells = []
            for j in range(n):
                cells.append(f"**{fmt(m[i, j], digits)}**" if i == j else f"{fmt(m[i, j], digits)} "
                             f"({g[i, j]:+.{digits}f})")
            off = [g[i, j] for j in range(n) if j != i]
            lines.append(f"| `{a}` | " + " | ".join(cells) + f" | {np.mean(off):+.{digits}f} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        width = max(len(c) for c in self.corpora) + 2
        mode = ", adaptive: keeps learning while it scores" if self.adaptive else ""
        rows = [f"transfer probe: {self.model} (bits/byte on each held-out split; row = fitted on{mode})",
                " " * width + "".join(f"{c:>{width}}" for c in self.corpora)]
        for i, a in enumerate(self.corpora):
            rows.append(f"{a:<{width}}" + "".join(f"{fmt(v, 3):>{width}}" for v in self.matrix[i]))
        return "\n".join(rows)


def _as_bytes(value: Any, what: str, limit: int | None) -> np.ndarray:
    """A corpus split as ``uint8[T]`` (a file for paths, else the bytes themselves), cut to ``limit``."""
    from ..data.corpus import read_corpus

    if isinstance(value, os.PathLike):
        data = read_corpus(value, name=what, mmap=True)
    else:
        data = as_byte_array(value, name=what)
    if limit is not None:
        data = data[:limit]
    if len(data) == 0:
        raise InputError(f"{what} is empty")
    return np.ascontiguousarray(data)


def _resolve_corpora(corpora: Mapping[str, Sequence[Any]] | Sequence[str]) -> dict[str, tuple[Any, Any]]:
    if isinstance(corpora, Mapping):
        out = {}
        for name, pair in corpora.items():
            if isinstance(pair, Mapping):
                pair = (pair.get("train"), pair.get("valid"))
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 or any(p is None for p in pair):
                raise InputError(f"corpus {name!r} must be a (train, valid) pair, got {type(pair).__name__}")
            out[str(name)] = (pair[0], pair[1])
        return out
    if isinstance(corpora, str) or not all(isinstance(c, str) for c in corpora):
        raise InputError("corpora must be a mapping name -> (train, valid) or a list of registered corpus names")
    from ..data.corpora import corpus_files

    paths = {name: corpus_files(name) for name in corpora}
    return {name: (Path(p["train"]), Path(p["valid"])) for name, p in paths.items()}


def _factory(model_factory_or_kind: str | Callable[[], Any], config: Mapping[str, Any] | None,
             seed: int) -> Callable[[], Any]:
    if isinstance(model_factory_or_kind, str):
        from ..registry import model_class

        cls = model_class(model_factory_or_kind)
        options = dict(config or {})
        return lambda: cls(**options, seed=seed)
    if config:
        raise InputError("config applies to a model kind; a model factory sets up its own models")
    if not callable(model_factory_or_kind):
        raise InputError(f"expected a model kind or a callable returning a fresh model, "
                         f"got {type(model_factory_or_kind).__name__}")
    return model_factory_or_kind


def evaluate_transfer_probe(model_factory_or_kind: str | Callable[[], Any],
                            corpora: Mapping[str, Sequence[Any]] | Sequence[str], *,
                            config: Mapping[str, Any] | None = None, seed: int = 0,
                            train_bytes: int | None = None, valid_bytes: int | None = None,
                            workers: int = 1, progress: bool | None = False) -> TransferReport:
    """Fit one fresh model per corpus on its train split and score it on every corpus's held-out split.

    ``model_factory_or_kind``: a registered model name (built as ``model_class(kind)(**config, seed=seed)``)
    or a callable returning a fresh, unfitted predictor with ``fit`` and ``score``.
    ``corpora``: ``{name: (train, valid)}`` (bytes, ``uint8`` arrays, or paths of files), or a list of
    names registered in :mod:`decepticons.data.corpora` (fetched and cached on first use).
    ``train_bytes`` / ``valid_bytes``: use only the first so many bytes of each split.
    Returns a :class:`TransferReport` (module doc: the matrix and the gap).
    """
    for name, limit in (("train_bytes", train_bytes), ("valid_bytes", valid_bytes)):
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise InputError(f"{name} must be an integer >= 1 or None, got {limit!r}")
    pairs = _resolve_corpora(corpora)
    if len(pairs) < 2:
        raise InputError(f"a transfer probe needs at least two corpora, got {len(pairs)}")
    make = _factory(model_factory_or_kind, config, seed)
    names = list(pairs)
    train = {n: _as_bytes(pairs[n][0], f"corpus {n!r} train split", train_bytes) for n in names}
    valid = {n: _as_bytes(pairs[n][1], f"corpus {n!r} valid split", valid_bytes) for n in names}
    bits: list[list[float]] = []
    fit_s: dict[str, float] = {}
    score_s: dict[str, float] = {}
    from ..predictor import CausalPredictor

    model_name, adaptive = "", False
    for a in names:
        model = make()
        if not isinstance(model, CausalPredictor) or not isinstance(model, Fittable):
            raise InputError(f"{type(model).__name__} is not a predictor with a closed-form fit(data): "
                             "a transfer probe fits one fresh model per corpus")
        model_name, adaptive = model.name, bool(model.adaptive)
        t0 = time.perf_counter()
        model.fit(train[a], workers=workers)
        fit_s[a] = time.perf_counter() - t0
        t0 = time.perf_counter()
        bits.append([float(model.score(valid[b], progress=progress).bits_per_byte) for b in names])
        score_s[a] = time.perf_counter() - t0
    return TransferReport(model=model_name, corpora=names, train_bytes={n: len(train[n]) for n in names},
                          valid_bytes={n: len(valid[n]) for n in names}, bits_per_byte=bits,
                          fit_seconds=fit_s, score_seconds=score_s, adaptive=adaptive)


__all__ = ["Fittable", "TransferReport", "evaluate_transfer_probe"]

"""OracleAnalysisAdapter (registry name ``oracle``): how determined each byte is given its whole context.

A bidirectional model for analysis only. At position t it reads both sides (:mod:`.sides`): the forward
prediction ``F_0 = log p_f(. | x_<t)``, the backward one ``F_1 = log p_b(. | x_>t)`` and the unigram prior
``F_2 = log p_0`` (with ``prior``), combined by a learned product of experts (:mod:`.log_linear`)::

    log q_t(c) = sum_k W[g_t, k] F_k(c) - log Z_t,      g_t = N_TOP * T(max p_f) + T(max p_b)

where ``T`` buckets a top-1 probability (:data:`TOP_EDGES`), so the weights depend on how confident each side
is. ``W`` is fitted on a held-out tail of the training bytes, predicted by a pair fitted on the rest; then
both sides are refitted on every byte. Shapes: ``log_probs(uint8[T]) -> float64[T, 256]``, row t normalised.

The oracle declares itself non-causal (``causal = False``): row t depends on bytes after t, so its rows are
not a code. Causal ``score``, ``generate``, ``compress`` / ``decompress`` and the mixer refuse it, and it has
no stream. :meth:`OracleAnalysisAdapter.analyse` compares it with a causal model (by default its own forward
side, the same memory with the left context only): per-position oracle bits ``-log2 q_t(x_t)``, causal bits
``-log2 p(x_t | x_<t)``, their gap, the same per byte class (:mod:`.classes`) and how determined the bytes
are (the share of bytes the oracle gives probability >= 0.5, 0.9, 0.99).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2, CausalPredictor, Stream, log_probs_from_chunks, require_causal
from ..runtime.reports import FitReport, Report, fmt
from ..validation import Validated, spec
from . import log_linear
from .classes import BYTE_CLASSES, byte_classes, per_class_means
from .components import check_component
from .sides import SidePair

#: edges of the top-1 probability buckets ``T`` that choose the weights (4 buckets per side)
TOP_EDGES = (0.3, 0.6, 0.9)
N_TOP = len(TOP_EDGES) + 1
#: probability thresholds of the "determined" summary
DETERMINED = (0.5, 0.9, 0.99)
DEFAULT_SIDE: dict[str, Any] = {"kind": "ngram", "config": {"orders": 5}}


@dataclass
class OracleConfig(Validated):
    """Options of :class:`OracleAnalysisAdapter`."""

    forward: dict[str, Any] = spec(default_factory=lambda: dict(DEFAULT_SIDE),
                                   doc='forward model, {"kind": MODEL_NAME, "config": {...}}')
    backward: dict[str, Any] | None = spec(None, optional=True,
                                           doc="backward model (fitted on reversed bytes); default: as forward")
    holdout: float = spec(0.1, lo=0.0, hi=0.5, lo_open=True, hi_open=True,
                          doc="tail of the training bytes the mixing weights are fitted on")
    prior: bool = spec(True, doc="divide by the unigram prior (its weight is learned)")
    fit_rows: int = spec(16384, lo=64, hi=1 << 20, doc="most held-out positions the weights are fitted on")

    def check(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "forward", check_component(owner, "forward", self.forward))
        if self.backward is not None:
            object.__setattr__(self, "backward", check_component(owner, "backward", self.backward))

    def backward_side(self) -> dict[str, Any]:
        return self.backward if self.backward is not None else self.forward


def top_groups(top_f: np.ndarray, top_b: np.ndarray) -> np.ndarray:
    """``int64[n]``: the weight group ``N_TOP * T(top_f) + T(top_b)`` of each position."""
    edges = np.asarray(TOP_EDGES)
    return N_TOP * np.searchsorted(edges, top_f, side="right") + np.searchsorted(edges, top_b, side="right")


@dataclass
class OracleReport(Report):
    """Oracle against causal bits per byte on one input; arrays per position (``float64[T]`` bits,
    ``uint8[T]`` byte classes) beside the summary."""

    oracle: str
    causal_model: str
    bytes: int
    causal_bits_per_byte: float
    oracle_bits_per_byte: float
    gap_bits_per_byte: float
    determined: dict[str, float]
    per_class: dict[str, dict[str, float]]
    causal_bits: np.ndarray = field(repr=False)
    oracle_bits: np.ndarray = field(repr=False)
    classes: np.ndarray = field(repr=False)

    @property
    def gap_bits(self) -> np.ndarray:
        """``float64[T]``: causal minus oracle bits at every position (what the right context adds)."""
        return self.causal_bits - self.oracle_bits

    def __str__(self) -> str:
        lines = [f"input              {self.bytes:,} bytes",
                 f"causal bits/byte   {fmt(self.causal_bits_per_byte)} ({self.causal_model}, left context only)",
                 f"oracle bits/byte   {fmt(self.oracle_bits_per_byte)} ({self.oracle}, both sides)",
                 f"gap                {fmt(self.gap_bits_per_byte)} bits/byte",
                 "determined         " + ", ".join(f"{v:.1%} of bytes at {k}" for k, v in self.determined.items()),
                 "", f"{'class':<12} {'bytes':>9} {'causal':>8} {'oracle':>8} {'gap':>8}"]
        for name, row in self.per_class.items():
            lines.append(f"{name:<12} {int(row['bytes']):>9,} {row['causal_bpb']:>8.3f} {row['oracle_bpb']:>8.3f} "
                         f"{row['gap']:>8.3f}")
        return "\n".join(lines)


class OracleAnalysisAdapter(CausalPredictor):
    """Bidirectional analysis model (module docstring); options in :class:`OracleConfig`."""

    name: ClassVar[str] = "oracle"
    config_class: ClassVar[type] = OracleConfig
    causal: ClassVar[bool] = False

    def __init__(self, config: OracleConfig | None = None, *, seed: int = 0, **options: Any) -> None:
        base = dataclasses.asdict(config) if config is not None else {}
        self.config = OracleConfig.from_dict({**base, **options})
        self.seed = int(seed)
        self.sides = self._pair()
        self.weights = np.tile(self._init_weights(), (N_TOP * N_TOP, 1))
        self.fit_info: dict[str, Any] = {}

    def _pair(self) -> SidePair:
        return SidePair(self.config.forward, self.config.backward_side(), seed=self.seed, what="the oracle")

    def _init_weights(self) -> np.ndarray:
        return np.array([1.0, 1.0, -1.0]) if self.config.prior else np.array([1.0, 1.0])

    @classmethod
    def tiny(cls, train: np.ndarray) -> OracleAnalysisAdapter:
        model = cls(forward={"kind": "ngram", "config": {"orders": 3}}, fit_rows=512)
        model.fit(train)
        return model

    @property
    def adaptive(self) -> bool:  # type: ignore[override]
        return self.sides.forward.adaptive or self.sides.backward.adaptive

    # ------------------------------------------------------------------ rows
    def _mixed_blocks(self, pair: SidePair, weights: np.ndarray, x: np.ndarray,
                      chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(features float64[n, K, 256], groups int64[n])`` blocks in position order."""
        back = pair.backward_rows(x)
        pos = 0
        for fwd in pair.forward_blocks(x, chunk):
            n = len(fwd)
            b = back[pos:pos + n]
            rows = [fwd, b] + ([np.broadcast_to(pair.prior, (n, 256))] if self.config.prior else [])
            feats = np.stack(rows, axis=1)
            groups = top_groups(np.exp(fwd.max(axis=1)), np.exp(b.max(axis=1)))
            pos += n
            yield feats, groups

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 13) -> Iterator[np.ndarray]:
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            return
        for feats, groups in self._mixed_blocks(self.sides, self.weights, x, max(1, int(chunk_size))):
            yield log_linear.mix(feats, self.weights, groups)

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return log_probs_from_chunks(self, data)

    def stream(self) -> Stream:
        raise InputError("the oracle is non-causal: it reads both sides of every byte and has no stream")

    # ------------------------------------------------------------------ fit
    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """Fit the weights on the held-out tail (sides fitted on the rest), then both sides on every byte.
        ``train_bits_per_byte`` is the oracle's on that tail; ``valid_bits_per_byte`` the oracle's on ``valid``
        (both non-causal figures: they are not code lengths)."""
        del progress
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        t0 = time.perf_counter()
        h = int(len(x) * self.config.holdout)
        tail_bits = None
        if h >= 16 and len(x) - h >= 16:
            head, tail = x[:-h], x[-h:]
            pair = self._pair()
            pair.fit(head, workers=workers)
            feats, groups = zip(*self._mixed_blocks(pair, self.weights, tail, 1 << 13))
            f, g = np.concatenate(feats), np.concatenate(groups)
            sel = np.unique(np.linspace(0, len(tail) - 1, min(len(tail), self.config.fit_rows)).astype(np.int64))
            self.weights = log_linear.fit(f[sel], tail[sel], g[sel], N_TOP * N_TOP, self._init_weights())
            lq = log_linear.mix(f, self.weights, g)
            tail_bits = float(-lq[np.arange(len(tail)), tail].sum() / LN2 / len(tail))
        self.sides = self._pair()
        reports = self.sides.fit(x, workers=workers)
        report = FitReport(model=self.name, train_bytes=len(x), seconds=time.perf_counter() - t0,
                           train_bits_per_byte=float("nan") if tail_bits is None else tail_bits,
                           details={"train_bits_per_byte_is": f"oracle bits/byte on the held-out tail ({h:,} bytes; "
                                    "non-causal, not a code length)", "sides": reports,
                                    "weights": self.weights.tolist()})
        if valid is not None:
            v = as_byte_array(valid, name="valid")
            if len(v):
                report.valid_bytes = len(v)
                report.valid_bits_per_byte = float(-self.target_log_probs(v).mean() / LN2)
        self.fit_info = {k: v for k, v in report.to_dict().items() if k != "details"}
        return report

    # ------------------------------------------------------------------ analysis
    def analyse(self, data: BytesLike, causal: CausalPredictor | None = None,
                progress: bool | None = None) -> OracleReport:
        """Oracle against causal bits on ``data`` (module docstring); ``causal`` defaults to the forward side."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot analyse an empty input")
        base = causal if causal is not None else self.sides.forward
        require_causal(base, "the causal side of an oracle analysis")
        causal_bits = -base.target_log_probs(x, progress=progress) / LN2
        oracle_bits = -self.target_log_probs(x, progress=progress) / LN2
        for what, bits in (("causal", causal_bits), ("oracle", oracle_bits)):
            if not np.all(np.isfinite(bits)):
                raise InputError(f"the {what} model gave probability 0 to the byte at position "
                                 f"{int(np.flatnonzero(~np.isfinite(bits))[0])}")
        classes = byte_classes(x)
        per_class = per_class_means(classes, causal_bpb=causal_bits, oracle_bpb=oracle_bits,
                                    gap=causal_bits - oracle_bits)
        p = np.exp2(-oracle_bits)
        determined = {f"p>={t:g}": float((p >= t).mean()) for t in DETERMINED}
        cb, ob = float(causal_bits.mean()), float(oracle_bits.mean())
        return OracleReport(oracle=self.name, causal_model=base.name, bytes=len(x), causal_bits_per_byte=cb,
                            oracle_bits_per_byte=ob, gap_bits_per_byte=cb - ob, determined=determined,
                            per_class=per_class, causal_bits=causal_bits, oracle_bits=oracle_bits, classes=classes)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, **self.sides.tensors()}

    def extra_state(self) -> dict[str, Any]:
        return {"fit": self.fit_info, **self.sides.extra()}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> OracleAnalysisAdapter:
        model = cls(**config)
        w = np.ascontiguousarray(tensors["weights"], dtype=np.float64)
        if w.shape != model.weights.shape:
            raise ValueError(f"weights have shape {w.shape}, expected {model.weights.shape}")
        model.weights = w.copy()
        model.sides.load(tensors, extra)
        model.fit_info = dict(extra.get("fit", {}))
        return model

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update({"causal": False, **self.config.to_dict()})
        return d


__all__ = ["BYTE_CLASSES", "OracleAnalysisAdapter", "OracleConfig", "OracleReport"]

"""NoncausalReconstructiveAdapter: masked-span and field reconstruction from both sides.

For a masked span ``[s, e)`` of ``x`` (the bytes outside it known) and a window of ``W`` bytes on each side:

* backward: the backward model (fitted on reversed bytes, :mod:`.sides`) reads ``x[e : e + W]`` nearest
  first, then fills the span from its right end with its own most likely bytes; its row at t,
  ``B_t = log p_b(. | x_>=e, fill_(t, e))``, depends on the right context only;
* forward: the forward model reads ``x[s - W : s]`` and the span bytes before t (``F_t = log p_f(. | x_<t)``);
* both: ``log q_t = sum_k W[g_t, k] [F_t, B_t, log p_0]_k - log Z_t`` (:mod:`.log_linear`), with the weight
  group ``g_t`` a bucket of the distance ``e - t`` to the known right context (:data:`DISTANCE_EDGES`).

By the chain rule over the span, ``sum_t -log2 q_t(x_t)`` is a code length of the span given the bytes around
it: the metric is bits per masked byte. Greedy reconstruction pushes ``argmax q_t`` instead of ``x_t`` into the
forward model (it never reads the masked bytes); span accuracy is the share of spans reconstructed exactly,
byte accuracy the share of masked bytes. The causal-only baseline is the same forward model with the left
context only (``q_t = p_f``). The weights are fitted on spans of a held-out tail of the training bytes (the
sides fitted on the rest), then both sides are refitted on every byte.

Memories whose prediction depends on at most ``W`` bytes (fixed-order count memories with ``online`` off, the
default) see exactly what they would see over the whole input; an adaptive or longer-context model is read
through the window.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2
from ..runtime.reports import FitReport, Report, fmt
from ..validation import Validated, spec
from . import log_linear
from .components import check_component
from .masks import MaskConfig, check_spans, make_spans
from .sides import SidePair

#: edges of the distance buckets (``e - t``: 1, 2, 3-4, 5-8, 9-16, more) that choose the weights
DISTANCE_EDGES = (2, 3, 5, 9, 17)
N_GROUPS = len(DISTANCE_EDGES) + 1
DEFAULT_SIDE: dict[str, Any] = {"kind": "ngram", "config": {"orders": 5, "online": False}}


@dataclass
class ReconstructConfig(Validated):
    """Options of :class:`NoncausalReconstructiveAdapter`."""

    forward: dict[str, Any] = spec(default_factory=lambda: dict(DEFAULT_SIDE),
                                   doc='forward model, {"kind": MODEL_NAME, "config": {...}}')
    backward: dict[str, Any] | None = spec(None, optional=True,
                                           doc="backward model (fitted on reversed bytes); default: as forward")
    window: int = spec(32, lo=1, hi=1 << 16, doc="context bytes read on each side of a span")
    holdout: float = spec(0.1, lo=0.0, hi=0.5, lo_open=True, hi_open=True,
                          doc="tail of the training bytes the mixing weights are fitted on")
    fit_length: int = spec(8, lo=1, hi=4096, doc="mean span length of the fitting spans (uniform lengths)")
    fit_rows: int = spec(8192, lo=64, hi=1 << 20, doc="most masked positions the weights are fitted on")

    def check(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "forward", check_component(owner, "forward", self.forward))
        if self.backward is not None:
            object.__setattr__(self, "backward", check_component(owner, "backward", self.backward))


@dataclass
class ReconstructionReport(Report):
    """Reconstruction of the masked spans of one input, from both sides and from the left only."""

    bytes: int
    spans: int
    masked_bytes: int
    bits_per_masked_byte: float
    causal_bits_per_masked_byte: float
    span_accuracy: float
    causal_span_accuracy: float
    byte_accuracy: float
    causal_byte_accuracy: float
    seconds: float
    filled: np.ndarray = field(repr=False)          # uint8[T]: the input with every span greedily reconstructed
    causal_filled: np.ndarray = field(repr=False)   # the same from the left context only
    masked_bits: np.ndarray = field(repr=False)     # float64[masked_bytes]: -log2 q_t(x_t) over the spans

    def __str__(self) -> str:
        return "\n".join([
            f"input              {self.bytes:,} bytes, {self.spans:,} spans, {self.masked_bytes:,} masked bytes",
            f"{'':18} {'both sides':>12} {'left only':>12}",
            f"{'bits/masked byte':<18} {fmt(self.bits_per_masked_byte):>12} "
            f"{fmt(self.causal_bits_per_masked_byte):>12}",
            f"{'span accuracy':<18} {self.span_accuracy:>12.1%} {self.causal_span_accuracy:>12.1%}",
            f"{'byte accuracy':<18} {self.byte_accuracy:>12.1%} {self.causal_byte_accuracy:>12.1%}",
            f"time               {self.seconds:.2f} s"])


def distance_groups(distance: np.ndarray) -> np.ndarray:
    """``int64[n]``: the weight group of each distance ``e - t`` (>= 1) to the right context."""
    return np.searchsorted(np.asarray(DISTANCE_EDGES), distance, side="right")


class NoncausalReconstructiveAdapter:
    """Masked-span reconstruction from both sides (module docstring); options in :class:`ReconstructConfig`."""

    name = "noncausal-reconstructive"

    def __init__(self, config: ReconstructConfig | None = None, *, seed: int = 0, **options: Any) -> None:
        base = dataclasses.asdict(config) if config is not None else {}
        self.config = ReconstructConfig.from_dict({**base, **options})
        self.seed = int(seed)
        self.sides = self._pair()
        self.weights = np.tile(np.array([1.0, 1.0, -1.0]), (N_GROUPS, 1))
        self.fitted = False

    def _pair(self) -> SidePair:
        cfg = self.config
        return SidePair(cfg.forward, cfg.backward if cfg.backward is not None else cfg.forward, seed=self.seed,
                        what="the reconstructor")

    # ------------------------------------------------------------------ one span
    def _span(self, pair: SidePair, weights: np.ndarray | None, x: np.ndarray, s: int, e: int,
              truth: bool) -> dict[str, np.ndarray]:
        """Rows and greedy fills of span ``[s, e)`` (``weights`` None: features only). With ``truth`` the
        teacher-forced forward rows (reading the true span bytes before t) are computed too."""
        w = self.config.window
        left, right = x[max(0, s - w):s], x[e:e + w]
        n = e - s
        back = np.empty((n, 256))
        bst = pair.backward.stream()
        bst.push_many(right[::-1])
        for i in range(n - 1, -1, -1):
            back[i] = bst.log_probs()
            bst.push(int(np.argmax(back[i])))
        out: dict[str, np.ndarray] = {"back": back}
        groups = distance_groups(np.arange(n, 0, -1))
        if truth:
            fwd = pair.forward.log_probs(np.concatenate([left, x[s:e]]))[len(left):]
            out["fwd"] = fwd
        if weights is None:
            return out
        prior = pair.prior
        fills = {}
        for mode in ("both", "left"):
            fst = pair.forward.stream()
            fst.push_many(left)
            picks = np.empty(n, dtype=np.uint8)
            for i in range(n):
                row = fst.log_probs()
                if mode == "both":
                    row = log_linear.mix(np.stack([row, back[i], prior])[None], weights, groups[i:i + 1])[0]
                picks[i] = int(np.argmax(row))
                fst.push(int(picks[i]))
            fills[mode] = picks
        out["fill"], out["causal_fill"] = fills["both"], fills["left"]
        if truth:
            feats = np.stack([out["fwd"], back, np.broadcast_to(prior, (n, 256))], axis=1)
            lq = log_linear.mix(feats, weights, groups)
            out["bits"] = -lq[np.arange(n), x[s:e]] / LN2
            out["causal_bits"] = -np.maximum(out["fwd"][np.arange(n), x[s:e]], log_linear.FLOOR) / LN2
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, data: BytesLike, workers: int = 1) -> FitReport:
        """Fit the weights on masked spans of the held-out tail (sides fitted on the rest), then both sides on
        every byte. ``train_bits_per_byte`` is bits per masked byte on those spans."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        t0 = time.perf_counter()
        cfg = self.config
        h = int(len(x) * cfg.holdout)
        tail_bits = float("nan")
        if h >= 64 and len(x) - h >= 16:
            tail = x[-h:]
            pair = self._pair()
            pair.fit(x[:-h], workers=workers)
            mask = MaskConfig(span_length=cfg.fit_length, distribution="uniform", fraction=0.15, seed=self.seed)
            feats, groups, targets = [], [], []
            budget = cfg.fit_rows
            for s, e in make_spans(len(tail), mask):
                if budget <= 0:
                    break
                r = self._span(pair, None, tail, int(s), int(e), truth=True)
                n = e - s
                feats.append(np.stack([r["fwd"], r["back"], np.broadcast_to(pair.prior, (n, 256))], axis=1))
                groups.append(distance_groups(np.arange(n, 0, -1)))
                targets.append(tail[s:e])
                budget -= n
            f, g, y = np.concatenate(feats), np.concatenate(groups), np.concatenate(targets)
            self.weights = log_linear.fit(f, y, g, N_GROUPS, np.array([1.0, 1.0, -1.0]))
            lq = log_linear.mix(f, self.weights, g)
            tail_bits = float(-lq[np.arange(len(y)), y].mean() / LN2)
        self.sides = self._pair()
        reports = self.sides.fit(x, workers=workers)
        self.fitted = True
        return FitReport(model=self.name, train_bytes=len(x), seconds=time.perf_counter() - t0,
                         train_bits_per_byte=tail_bits,
                         details={"train_bits_per_byte_is": "bits per masked byte on spans of the held-out tail",
                                  "sides": reports, "weights": self.weights.tolist()})

    # ------------------------------------------------------------------ use
    def _check(self, data: BytesLike, spans: Any) -> tuple[np.ndarray, np.ndarray]:
        if not self.fitted:
            raise InputError("the reconstructor is not fitted: call fit(training bytes) first")
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot reconstruct spans of an empty input")
        return x, check_spans(spans, len(x))

    def reconstruct(self, data: BytesLike, spans: Any) -> np.ndarray:
        """``uint8[T]``: ``data`` with every span (``int64[S, 2]`` rows ``(start, end)``) replaced by its greedy
        reconstruction from both sides; the masked bytes' values are never read."""
        x, sp = self._check(data, spans)
        out = x.copy()
        for s, e in sp:
            out[s:e] = self._span(self.sides, self.weights, x, int(s), int(e), truth=False)["fill"]
        return out

    def evaluate(self, data: BytesLike, spans: Any | None = None,
                 mask: MaskConfig | None = None) -> ReconstructionReport:
        """Bits per masked byte, span and byte accuracy of ``data``'s spans (``spans``, or generated by
        :func:`~decepticons.adapters.masks.make_spans` with ``mask``), from both sides and from the left only."""
        x = np.asarray(as_byte_array(data))
        if spans is None and len(x):
            spans = make_spans(len(x), mask or MaskConfig())
        x, sp = self._check(x, spans)
        t0 = time.perf_counter()
        filled, causal_filled = x.copy(), x.copy()
        bits, cbits = [], []
        for s, e in sp:
            r = self._span(self.sides, self.weights, x, int(s), int(e), truth=True)
            filled[s:e], causal_filled[s:e] = r["fill"], r["causal_fill"]
            bits.append(r["bits"])
            cbits.append(r["causal_bits"])
        masked = np.zeros(len(x), dtype=bool)
        for s, e in sp:
            masked[s:e] = True
        exact = np.array([np.array_equal(filled[s:e], x[s:e]) for s, e in sp])
        cexact = np.array([np.array_equal(causal_filled[s:e], x[s:e]) for s, e in sp])
        b, cb = np.concatenate(bits), np.concatenate(cbits)
        return ReconstructionReport(
            bytes=len(x), spans=len(sp), masked_bytes=int(masked.sum()), bits_per_masked_byte=float(b.mean()),
            causal_bits_per_masked_byte=float(cb.mean()), span_accuracy=float(exact.mean()),
            causal_span_accuracy=float(cexact.mean()), byte_accuracy=float((filled[masked] == x[masked]).mean()),
            causal_byte_accuracy=float((causal_filled[masked] == x[masked]).mean()),
            seconds=time.perf_counter() - t0, filled=filled, causal_filled=causal_filled, masked_bits=b)

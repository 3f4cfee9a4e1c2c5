"""ByteLatentPredictiveCoder: frozen substrate + feature views + closed-form readout.

Prediction of byte ``x_t`` from ``x_<t`` (all causal)::

    f_t      = view features for byte t (bytes < t)                  float64[F]     (views/; default: the
               substrate state after x_{t-1}, F = d)
    p_sub    = softmax(tau * log(max([f_t, 1] W, 0) + eps))          float64[256]   (coder/ridge.py)
    p_k      = interpolated Kneser-Ney step over the exact-context   float64[256]   (coder/context_counts.py)
               counts of order k = 0..K, on top of p_{k-1}, with p_{-1} = p_sub
    p(x_t)   = p_K

``view`` picks the feature source (``state``, ``byte_latent``, ``hierarchical``, ``linear_memory``,
``sampled``: see :mod:`decepticons.views`); ``preset=`` sets a view together with the substrate it reads.

Everything is learned in closed form from additive sufficient statistics accumulated in chunks:
``A = sum f f^T`` and ``B = sum f e_y^T`` for the ridge readout, and the (context, next byte) count tables.
Hyper-parameters (ridge strength ``lam``, temperature ``tau``, per-order discounts ``d_k`` and
escapes ``b_k``) are chosen on a held-out tail of the training bytes, whose statistics are then
added to the model. Shards are independent given the substrate state at their start, so ``fit(workers=N)``
computes them in worker processes and sums them in a fixed order: the model does not depend on ``N``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2, CausalPredictor, Stream, score_valid
from ..runtime.progress import ByteProgress
from ..runtime.reports import FitReport
from ..substrates import SUBSTRATES, make_substrate
from ..validation import Spec, Validated, fail, spec
from ..views.base import FeatureView
from ..views.presets import VIEWS, make_view, view_substrates
from ..views.presets import preset as preset_settings
from .context_counts import (
    HASH_VERSION,
    ContextCounts,
    ContextSmoother,
    SmoothedOrder,
    context_hashes,
    context_hashes_scalar,
)
from .ridge import RidgeReadout, RidgeStats, fit_readout
from .search import golden_min

_POSITIVE = Spec(kind="float", lo=0.0, hi=1e12, lo_open=True)


@dataclass
class CoderConfig(Validated):
    """Configuration of :class:`ByteLatentPredictiveCoder` (defaults are the benchmarked model)."""

    substrate: str = spec("linear_memory", choices=tuple(SUBSTRATES), doc="frozen substrate")
    substrate_options: dict[str, Any] = spec(default_factory=dict, doc="options of the substrate's config")
    max_order: int = spec(7, lo=0, hi=16, doc="longest exact context (bytes) in the count view")
    max_events_per_order: int = spec(2_000_000, lo=1024, hi=1 << 30,
                                     doc="memory cap: rarest (context, byte) events beyond it are dropped")
    holdout_fraction: float = spec(0.1, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                                   doc="tail of the training bytes used to choose hyper-parameters")
    max_holdout_bytes: int = spec(200_000, lo=1, hi=1 << 40)
    ridge_lambdas: tuple[float, ...] = spec((1e-4, 1e-3, 1e-2, 1e-1, 1.0), min_len=1, max_len=64, items=_POSITIVE,
                                            doc="ridge strengths tried on the held-out tail")
    ridge_stride: int = spec(4, lo=1, hi=1 << 20, doc="use every n-th position for the ridge statistics")
    chunk_size: int = spec(1 << 16, lo=256, hi=1 << 24, doc="bytes per statistics / scoring chunk")
    train_sample_bytes: int = spec(1 << 18, lo=0, hi=1 << 40,
                                   doc="bytes of training text re-scored for train_bits_per_byte")
    seed: int = spec(0, lo=0, hi=2**63 - 1)
    view: str = spec("state", choices=tuple(VIEWS), doc="feature source of the readout (decepticons.views)")
    view_options: dict[str, Any] = spec(default_factory=dict, doc="options of the view's config")

    def check(self) -> None:
        kinds = view_substrates(self.view)
        if kinds is not None and self.substrate not in kinds:
            raise fail("CoderConfig", f"view {self.view!r} reads a {' or '.join(kinds)} substrate, not "
                                      f"{self.substrate!r}: set substrate={kinds[0]} (or use preset={self.view})")


#: configuration fields added after the first model files; left out of ``config_dict`` at their defaults so the
#: default coder's configuration (and fingerprint) is what it was
_LATER_FIELDS = {"view": "state", "view_options": {}}


# ------------------------------------------------------------------------------------ shard statistics
def _shard_stats(view: FeatureView, x: np.ndarray, history: np.ndarray, state: np.ndarray,
                 max_order: int, stride: int) -> tuple[ContextCounts, RidgeStats]:
    """Count tables and ridge statistics of one shard, given the view state and bytes before it."""
    feats = view.scan(x, state)[0]
    rs = RidgeStats.zeros(view.feature_size)
    rs.add(feats[::stride], x[::stride])
    return ContextCounts.from_data(x, max_order, history), rs


def _append_counts(counts: list[ContextCounts], new: ContextCounts, cap: int, every: int = 8) -> list[ContextCounts]:
    """Keep shard count tables, merging every ``every`` shards (an exact integer sum) and capping each order at
    ``cap`` events, so memory is bounded by ``cap`` rather than by the corpus length."""
    counts = counts + [new]
    return [ContextCounts.merge(counts, cap)] if len(counts) >= every else counts


def _shard_job(args: tuple[Any, ...]) -> tuple[ContextCounts, RidgeStats]:
    view, x, history, state, max_order, stride = args
    return _shard_stats(view, x, history, state, max_order, stride)


# ------------------------------------------------------------------------------------ hyper-parameters
def _fit_smoothing(stats: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                   base: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Coordinate descent (golden section per parameter) on per-order discounts and concentrations."""
    K1 = len(stats)
    d = np.full(K1, 0.7)
    th = np.full(K1, 0.5)

    def bits(dd: np.ndarray, tt: np.ndarray) -> float:
        p = ContextSmoother.chain_target(stats, base, dd, tt)
        return float(-np.log(np.maximum(p, 1e-300)).mean() / LN2)

    for _sweep in range(2):
        for k in reversed(range(K1)):
            def fd(v: float, k: int = k) -> float:
                dd = d.copy()
                dd[k] = v
                return bits(dd, th)
            d[k] = golden_min(fd, 0.0, 0.99, iters=14)

            def ft(v: float, k: int = k) -> float:
                tt = th.copy()
                tt[k] = np.expm1(v)
                return bits(d, tt)
            th[k] = np.expm1(golden_min(ft, 0.0, np.log1p(64.0), iters=14))
    return d, th, bits(d, th)


# ------------------------------------------------------------------------------------ the model
class ByteLatentPredictiveCoder(CausalPredictor):
    """Substrate + exact-context view + calibrated ridge readout, fitted in closed form.

    >>> model = ByteLatentPredictiveCoder()
    >>> report = model.fit("predictive coding likes repeated structure.\\n" * 64)
    """

    name = "coder"
    config_class: ClassVar[type] = CoderConfig

    def __init__(self, config: CoderConfig | None = None, *, seed: int | None = None, preset: str | None = None,
                 **overrides: Any):
        cfg = config or CoderConfig()
        if preset is not None:
            overrides = {**preset_settings(preset), **overrides}
        if overrides:
            known = set(CoderConfig.__dataclass_fields__)
            bad = sorted(set(overrides) - known)
            if bad:
                raise InputError(f"unknown coder option(s) {bad}; options: {sorted(known)}")
            cfg = CoderConfig(**{**asdict(cfg), **overrides})
        if seed is not None:
            cfg = CoderConfig(**{**asdict(cfg), "seed": seed})
        self.config = cfg
        self.substrate = make_substrate(cfg.substrate, seed=cfg.seed, **cfg.substrate_options)
        self.view = make_view(cfg.view, self.substrate, cfg.view_options)
        self.readout: RidgeReadout | None = None
        self.smoother: ContextSmoother | None = None
        self.report: FitReport | None = None

    # ------------------------------------------------------------------ fitting
    @property
    def fitted(self) -> bool:
        return self.readout is not None and self.smoother is not None

    def _require_fitted(self) -> tuple[RidgeReadout, ContextSmoother]:
        """The fitted readout and smoother, or an :class:`InputError` when the coder is not fitted."""
        if self.readout is None or self.smoother is None:
            raise InputError("this coder has not been fitted yet: call fit() or load a saved model")
        return self.readout, self.smoother

    def _collect(self, x: np.ndarray, state: np.ndarray, history: np.ndarray, workers: int,
                 bar: ByteProgress) -> tuple[list[ContextCounts], RidgeStats, np.ndarray]:
        """Statistics of ``x`` in fixed chunks (deterministic order), and the view state after it."""
        cs = self.config.chunk_size
        bounds = [(s, min(s + cs, len(x))) for s in range(0, len(x), cs)]
        K = self.config.max_order
        def hist_for(s: int) -> np.ndarray:
            return np.concatenate([history, x[:s]])[-K:] if K else np.zeros(0, np.uint8)

        counts: list[ContextCounts] = []
        ridge = RidgeStats.zeros(self.view.feature_size)
        stride = self.config.ridge_stride
        if workers > 1:
            # view state at each chunk start: a sequential pass (for the default view the scan is the light part)
            starts, st = [], state
            for s, e in bounds:
                starts.append(st)
                st = self.view.scan(np.asarray(x[s:e]), st)[1]
            jobs = [(self.view, np.array(x[s:e]), hist_for(s), starts[i], K, stride)
                    for i, (s, e) in enumerate(bounds)]
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for (s, e), (cc, rs) in zip(bounds, pool.map(_shard_job, jobs)):
                    counts = _append_counts(counts, cc, self.config.max_events_per_order)
                    ridge = ridge + rs
                    bar.update(e - s)
            return counts, ridge, st
        st = state
        for s, e in bounds:
            xs = np.asarray(x[s:e])
            feats, st_next = self.view.scan(xs, st)
            rs = RidgeStats.zeros(self.view.feature_size)
            rs.add(feats[::stride], xs[::stride])
            ridge = ridge + rs
            counts = _append_counts(counts, ContextCounts.from_data(xs, K, hist_for(s)),
                                    self.config.max_events_per_order)
            st = st_next
            bar.update(e - s)
        return counts, ridge, st

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """Fit on ``data`` (text or bytes); report held-out bits per byte on ``valid`` if given."""
        x = as_byte_array(data)
        if len(x) == 0:
            raise InputError("cannot fit on an empty input")
        if not isinstance(workers, int) or workers < 1:
            raise InputError(f"workers must be a positive integer, got {workers!r}")
        cfg = self.config
        t0 = time.perf_counter()
        n_hold = int(min(cfg.max_holdout_bytes, max(1, len(x) * cfg.holdout_fraction)))
        n_hold = min(n_hold, len(x) - 1) if len(x) > 1 else 0
        split = len(x) - n_hold
        empty = np.zeros(0, np.uint8)
        if self.view.needs_fit:  # refitting refits the view too
            self.view.fit(np.asarray(x[:split] if split >= 2 else x))
        state0 = self.view.init_state()
        with ByteProgress(len(x), desc="fit coder", enabled=progress) as bar:
            counts, ridge, st_split = self._collect(x[:split], state0, empty, workers, bar)
            hold = np.asarray(x[split:])
            details: dict[str, Any] = {"holdout_bytes": int(n_hold)}
            hist = np.asarray(x[max(0, split - cfg.max_order):split])
            if n_hold > 0:
                # choose lam, tau on the held-out tail
                merged = ContextCounts.merge(counts, cfg.max_events_per_order)
                orders = merged.smoother_tables()
                feats, _ = self.view.scan(hold, st_split)
                readout, curve = fit_readout(ridge, feats, hold, cfg.ridge_lambdas)
                details["ridge_curve"] = curve
                base = np.exp(readout.target_log_probs(feats, hold))
                hs = context_hashes(hold, cfg.max_order, hist)
                stats = [o.target_stats(h, hold) for o, h in zip(orders, hs)]
                disc, escapes, hold_bits = _fit_smoothing(stats, base)
                details["holdout_bits_per_byte"] = hold_bits
                details["substrate_only_holdout_bits_per_byte"] = min(c["bits_per_byte"] for c in curve)
                c2, r2, _ = self._collect(hold, st_split, hist, 1, bar)
                counts += c2
                ridge = ridge + r2
            else:
                readout = RidgeReadout(np.zeros((self.view.feature_size + 1, 256)), 1.0, 1.0)
                disc, escapes = np.full(cfg.max_order + 1, 0.7), np.full(cfg.max_order + 1, 0.5)
                bar.update(len(hold))
            from .ridge import RidgeSolver

            W = RidgeSolver(ridge).solve(readout.lam)
            self.readout = RidgeReadout(W, readout.tau, readout.lam, readout.eps)
            merged = ContextCounts.merge(counts, cfg.max_events_per_order)
            self.smoother = ContextSmoother(merged.smoother_tables(), disc, escapes)
        seconds = time.perf_counter() - t0
        # train bits/byte on (a spread sample of) the training bytes, with the final model
        sample = _spread_sample(x, cfg.train_sample_bytes, cfg.chunk_size)
        train_bits = float(np.mean([-self.target_log_probs(s, progress=False).mean() / LN2 for s in sample]))
        details["train_sample_bytes"] = int(sum(len(s) for s in sample))
        report = FitReport(model=self.name, train_bytes=len(x), seconds=seconds, train_bits_per_byte=train_bits,
                           workers=workers, details=details)
        if valid is not None:
            score_valid(self, report, valid, progress=progress)
        self.report = report
        return report

    # ------------------------------------------------------------------ prediction
    def _chunks(self, x: np.ndarray, chunk_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[np.ndarray]]]:
        """``(chunk, features, context hashes)`` for consecutive chunks, state carried across them."""
        st = self.view.init_state()
        K = self.config.max_order
        for s in range(0, len(x), chunk_size):
            xs = np.asarray(x[s:s + chunk_size])
            feats, st = self.view.scan(xs, st)
            hist = np.asarray(x[max(0, s - K):s])
            yield xs, feats, context_hashes(xs, K, hist)

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 14) -> Iterator[np.ndarray]:
        readout, smoother = self._require_fitted()
        x = as_byte_array(data)
        for _xs, feats, hs in self._chunks(x, chunk_size):
            base = np.exp(readout.log_probs(feats))
            p = smoother.probs(hs, base)
            yield np.log(p)

    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        if len(x) == 0:
            self._require_fitted()
            return np.zeros((0, 256))
        return np.concatenate(list(self.iter_log_probs(x)))

    def target_log_probs(self, data: BytesLike, chunk_size: int = 1 << 15,
                         progress: bool | None = None) -> np.ndarray:
        """Fast path: only the probability of the byte that occurs (the chain is normalised per order).

        The substrate scan runs sequentially (it carries state); the per-chunk readout and count lookups are
        independent and run in a small thread pool (numpy releases the GIL in its array loops).
        """
        readout, smoother = self._require_fitted()
        x = as_byte_array(data)
        out = np.empty(len(x))

        def work(pos: int, xs: np.ndarray, feats: np.ndarray, hs: list[np.ndarray]) -> tuple[int, int]:
            base = np.exp(readout.target_log_probs(feats, xs))
            out[pos:pos + len(xs)] = np.log(smoother.target_probs(hs, xs, base))
            return pos, len(xs)

        from concurrent.futures import ThreadPoolExecutor

        with ByteProgress(len(x), desc="score coder", enabled=progress) as bar, \
                ThreadPoolExecutor(max_workers=self.score_threads) as pool:
            pending = []
            pos = 0
            for xs, feats, hs in self._chunks(x, chunk_size):
                pending.append(pool.submit(work, pos, xs, feats, hs))
                pos += len(xs)
                while len(pending) > self.score_threads:
                    bar.update(pending.pop(0).result()[1])
            for f in pending:
                bar.update(f.result()[1])
        return out

    def trace_fields(self, data: BytesLike, chunk_size: int = 1 << 15) -> dict[str, np.ndarray]:
        """What decided each byte (the model's column of a trace, ``decepticons.runtime.traces``):
        ``order int64[T]``, the longest exact context k (bytes) whose counts were seen (n_k > 0: the top
        step of the Kneser-Ney chain that changed p), or -1 when none was and the readout alone decides.
        Reads only the context hashes (no substrate scan), so scoring is untouched."""
        _, smoother = self._require_fitted()
        x = as_byte_array(data)
        K = self.config.max_order
        out = np.full(len(x), -1, dtype=np.int64)
        for s in range(0, len(x), chunk_size):
            xs = np.asarray(x[s:s + chunk_size])
            hs = context_hashes(xs, K, np.asarray(x[max(0, s - K):s]))
            o = out[s:s + len(xs)]
            for k, (order, h) in enumerate(zip(smoother.orders, hs)):
                i, seen = order.context_index(h)
                if len(order.total):
                    seen &= order.total[i] > 0
                o[seen] = k  # orders ascend: the longest seen one is written last
        return {"order": out}

    #: threads used by :meth:`target_log_probs` (results do not depend on it)
    score_threads: int = 2

    def stream(self) -> Stream:
        self._require_fitted()
        return _CoderStream(self)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        d = asdict(self.config)
        d["ridge_lambdas"] = list(d["ridge_lambdas"])
        for k, default in _LATER_FIELDS.items():
            if d[k] == default:
                del d[k]
        return d

    def state_tensors(self) -> dict[str, np.ndarray]:
        readout, smoother = self._require_fitted()
        t = {"readout.W": readout.W,
             "readout.tau_lam_eps": np.array([readout.tau, readout.lam, readout.eps]),
             "smoother.discounts": smoother.discounts, "smoother.escapes": smoother.escapes}
        for k, o in enumerate(smoother.orders):
            t[f"order{k}.keys"] = o.keys
            t[f"order{k}.counts"] = o.counts.astype(np.float32)
        t.update({f"view.{k}": v for k, v in self.view.params().items()})
        return t

    def extra_state(self) -> dict[str, Any]:
        return {"fit_report": self.report.to_dict() if self.report else None, "hash_version": HASH_VERSION}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> ByteLatentPredictiveCoder:
        if extra.get("hash_version", 1) != HASH_VERSION:
            raise ValueError(f"its count tables use context-hash version {extra.get('hash_version', 1)}, this "
                             f"release reads version {HASH_VERSION} (version 1 lost the order-1 context); refit it")
        cfg = dict(config)
        cfg["ridge_lambdas"] = tuple(cfg.get("ridge_lambdas", ()))
        obj = cls(CoderConfig(**cfg))
        readout = RidgeReadout.from_tensors(tensors["readout.W"], tensors["readout.tau_lam_eps"],
                                            obj.view.feature_size)
        K1 = obj.config.max_order + 1
        orders = [SmoothedOrder.from_tensors(tensors[f"order{k}.keys"], tensors[f"order{k}.counts"], f"order{k}")
                  for k in range(K1)]
        d, esc = (np.asarray(tensors[f"smoother.{n}"], dtype=np.float64) for n in ("discounts", "escapes"))
        if d.shape != (K1,) or esc.shape != (K1,) or not np.all((d >= 0) & (d < 1)) or not np.all(esc >= 0):
            raise ValueError(f"smoother discounts and escapes must be {K1} numbers each (max_order + 1), with "
                             "0 <= discount < 1 and escape >= 0")
        if obj.view.needs_fit:
            obj.view.load_params({k[5:]: v for k, v in tensors.items() if k.startswith("view.")})
        obj.readout = readout
        obj.smoother = ContextSmoother(orders, d, esc)
        return obj

    def describe(self) -> dict[str, Any]:
        d = {**super().describe(), "config": self.config_dict(), "fitted": self.fitted}
        if self.smoother is not None and self.fitted:
            d["contexts_per_order"] = [int(len(o.ctx)) for o in self.smoother.orders]
        return d


def _spread_sample(x: np.ndarray, total: int, chunk: int) -> list[np.ndarray]:
    """Up to ``total`` bytes of ``x`` as evenly spaced whole windows (each scored from a fresh state)."""
    if len(x) <= total:
        return [np.asarray(x)]
    w = min(chunk, total)
    n = max(1, total // w)
    starts = np.linspace(0, len(x) - w, n).astype(int)
    return [np.asarray(x[s:s + w]) for s in starts]


class _CoderStream(Stream):
    """Byte-by-byte twin of ``log_probs``: view step, readout, then the count chain."""

    def __init__(self, model: ByteLatentPredictiveCoder) -> None:
        self.m = model
        self.state = model.view.init_state()
        self.recent: list[int] = []
        self.seen = 0
        self._cache: np.ndarray | None = None

    def log_probs(self) -> np.ndarray:
        if self._cache is None:
            m = self.m
            readout, smoother = m._require_fitted()
            base = np.exp(readout.log_probs(m.view.features_of(self.state)[None, :])[0])
            K = m.config.max_order
            hs = context_hashes_scalar(self.recent, K, self.seen)
            harr = [np.array([h], dtype=np.uint64) for h in hs]
            p = smoother.probs(harr, base[None, :])[0]
            self._cache = np.log(p)
        return self._cache

    def push(self, byte: int) -> None:
        b = byte  # checked by Stream (check_byte)
        self.state = self.m.view.step(self.state, b)
        self.recent.append(b)
        if len(self.recent) > self.m.config.max_order:
            del self.recent[0]
        self.seen += 1
        self._cache = None

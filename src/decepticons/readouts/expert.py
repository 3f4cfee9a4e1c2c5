"""Frozen-readout expert: a frozen substrate, a feature view and a closed-form readout, as a predictor.

One route per configured (substrate, view): the main one, plus one per preset named in ``routes``. Route r::

    f_{r,t}  = view_r features for byte t (bytes < t)               float64[F_r]     (decepticons.views)
    p_{r,t}  = softmax(tau_r * log(max([f_{r,t}, 1] W_r, 0) + eps_r))  float64[256]   (coder/ridge.py)

``W_r`` solves the ridge normal equations from additive statistics ``A = sum f f^T``, ``B = sum f e_y^T``;
``lam_r``, ``eps_r``, ``tau_r`` are chosen on a held-out tail of the training bytes. With one route the expert
predicts ``p_{0,t}``. With several, a :class:`~decepticons.control.router.SummaryRouter` weights them from
each route's summary of the past (row t)::

    S_{r,t} = [rbar_{r,t}, H(p_{r,t}) / 8]     rbar_{r,t} = running mean of -log2 p_{r,u}(x_u) over u < t
                                               (half-life ``route_half_life``), entropy a bridge feature
    w_t = softmax_r(theta . S_{r,t})           p_t = sum_r w_{t,r} p_{r,t}

with ``theta`` chosen on the held-out tail. Every quantity of row t reads bytes < t, so the expert is causal;
it is not adaptive (nothing learned is updated while scoring). It is a :class:`CausalPredictor`: usable on its
own and as a mixer expert.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..coder.ridge import RidgeReadout, RidgeSolver, RidgeStats, fit_readout
from ..coder.search import golden_min
from ..control.router import SummaryRouter
from ..control.summary import ControllerSummary, ema_decay, running
from ..errors import InputError
from ..predictor import LN2, CausalPredictor, Stream, log_probs_from_chunks, score_valid
from ..runtime.reports import FitReport
from ..substrates import SUBSTRATES, make_substrate
from ..validation import Spec, Validated, fail, spec
from ..views.base import FeatureView
from ..views.bridge import bridge_feature_arrays
from ..views.presets import PRESETS, VIEWS, make_view, preset, view_substrates

_POSITIVE = Spec(kind="float", lo=0.0, hi=1e12, lo_open=True)
SUMMARY_NAMES = ("running_bits", "entropy")
#: rows of the held-out tail used to choose the router weights
ROUTER_ROWS = 16384


@dataclass
class FrozenReadoutConfig(Validated):
    substrate: str = spec("linear_memory", choices=tuple(SUBSTRATES), doc="frozen substrate of the main route")
    substrate_options: dict[str, Any] = spec(default_factory=dict)
    view: str = spec("state", choices=tuple(VIEWS), doc="feature view of the main route")
    view_options: dict[str, Any] = spec(default_factory=dict)
    routes: tuple[str, ...] = spec((), max_len=8, items=Spec(kind="str", choices=tuple(PRESETS)),
                                   doc="further presets, each with its own readout, weighted by a summary router")
    route_half_life: float = spec(16.0, lo=0.0, hi=1e9, lo_open=True, doc="half-life of each route's running loss")
    ridge_lambdas: tuple[float, ...] = spec((1e-4, 1e-3, 1e-2, 1e-1, 1.0), min_len=1, max_len=64, items=_POSITIVE)
    ridge_stride: int = spec(2, lo=1, hi=1 << 20, doc="use every n-th position for the ridge statistics")
    chunk_size: int = spec(1 << 15, lo=256, hi=1 << 24, doc="bytes per statistics chunk")
    holdout_fraction: float = spec(0.1, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    max_holdout_bytes: int = spec(100_000, lo=1, hi=1 << 40)
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        kinds = view_substrates(self.view)
        if kinds is not None and self.substrate not in kinds:
            raise fail("FrozenReadoutConfig", f"view {self.view!r} reads a {' or '.join(kinds)} substrate, not "
                                              f"{self.substrate!r}")


def _route_views(cfg: FrozenReadoutConfig) -> list[FeatureView]:
    views = [make_view(cfg.view, make_substrate(cfg.substrate, seed=cfg.seed, **cfg.substrate_options),
                       cfg.view_options)]
    for name in cfg.routes:
        p = preset(name)
        sub = make_substrate(p.get("substrate", "linear_memory"), seed=cfg.seed, **p.get("substrate_options", {}))
        views.append(make_view(p["view"], sub, p.get("view_options")))
    return views


class FrozenReadoutExpert(CausalPredictor):
    """Frozen substrate + view + closed-form ridge readout (see the module docstring)."""

    name = "frozen-readout"
    config_class: ClassVar[type] = FrozenReadoutConfig

    def __init__(self, config: FrozenReadoutConfig | None = None, *, seed: int | None = None, **overrides: Any):
        cfg = config or FrozenReadoutConfig()
        if seed is not None:
            overrides = {**overrides, "seed": seed}
        if overrides:
            known = set(FrozenReadoutConfig.__dataclass_fields__)
            bad = sorted(set(overrides) - known)
            if bad:
                raise InputError(f"unknown frozen-readout option(s) {bad}; options: {sorted(known)}")
            cfg = FrozenReadoutConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        self.views = _route_views(cfg)
        self.readouts: list[RidgeReadout] | None = None
        self.router = SummaryRouter(np.array([-1.0, 0.0]), names=SUMMARY_NAMES)
        self.report: FitReport | None = None

    @property
    def fitted(self) -> bool:
        return self.readouts is not None

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise InputError("this frozen-readout expert has not been fitted yet: call fit() or load a saved model")

    # ------------------------------------------------------------------ fitting
    def _stats(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[list[RidgeStats], list[np.ndarray]]:
        cs, k = self.config.chunk_size, self.config.ridge_stride
        stats = [RidgeStats.zeros(v.feature_size) for v in self.views]
        states = list(states)
        for s in range(0, len(x), cs):
            xs = np.asarray(x[s:s + cs])
            for r, v in enumerate(self.views):
                feats, states[r] = v.scan(xs, states[r])
                stats[r].add(feats[::k], xs[::k])
        return stats, states

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """Fit every route's view and readout on ``data`` (and the router, with several routes)."""
        x = as_byte_array(data)
        if len(x) < 2:
            raise InputError(f"the frozen-readout expert needs at least 2 training bytes, got {len(x)}")
        if not isinstance(workers, int) or workers < 1:
            raise InputError(f"workers must be a positive integer, got {workers!r}")
        cfg = self.config
        t0 = time.perf_counter()
        n_hold = int(min(cfg.max_holdout_bytes, max(1, len(x) * cfg.holdout_fraction), len(x) - 1))
        split = len(x) - n_hold
        for v in self.views:
            if v.needs_fit:
                v.fit(np.asarray(x[:split] if split >= 2 else x))
        stats, st_split = self._stats(x[:split], [v.init_state() for v in self.views])
        hold = np.asarray(x[split:])
        readouts, details = [], {"holdout_bytes": n_hold, "routes": [cfg.view, *cfg.routes]}
        hold_lp = []
        for r, v in enumerate(self.views):
            feats = v.scan(hold, st_split[r])[0]
            ro, curve = fit_readout(stats[r], feats, hold, cfg.ridge_lambdas)
            readouts.append(ro)
            details[f"route{r}_holdout_bits_per_byte"] = min(c["bits_per_byte"] for c in curve)
            if len(self.views) > 1:
                hold_lp.append(ro.log_probs(feats[:ROUTER_ROWS]))
        if len(self.views) > 1:
            theta, bits = self._fit_router(hold_lp, hold[:ROUTER_ROWS])
            self.router = SummaryRouter(theta, names=SUMMARY_NAMES)
            details.update(router_theta=theta.tolist(), routed_holdout_bits_per_byte=bits)
        more, _ = self._stats(hold, st_split)
        self.readouts = [RidgeReadout(RidgeSolver(s + m).solve(ro.lam), ro.tau, ro.lam, ro.eps)
                         for s, m, ro in zip(stats, more, readouts)]
        seconds = time.perf_counter() - t0
        sample = np.asarray(x[:min(len(x), 1 << 17)])
        train_bits = float(-self.target_log_probs(sample, progress=False).mean() / LN2)
        report = FitReport(model=self.name, train_bytes=len(x), seconds=seconds, train_bits_per_byte=train_bits,
                           workers=workers, details=details)
        if valid is not None:
            score_valid(self, report, valid, progress=progress)
        self.report = report
        return report

    def _summaries(self, lps: list[np.ndarray], x: np.ndarray,
                   run: np.ndarray) -> tuple[list[ControllerSummary], np.ndarray]:
        """Each route's summary rows for a chunk (running loss before each byte, entropy) and the running losses
        after it."""
        out, after = [], run.copy()
        idx = np.arange(len(x))
        for r, lp in enumerate(lps):
            bits = -lp[idx, x] / LN2
            rb = running(bits, self.config.route_half_life, run[r])
            before = np.concatenate([[run[r]], rb[:-1]])
            out.append(ControllerSummary(np.stack([before, bridge_feature_arrays(lp).entropy], axis=1),
                                         SUMMARY_NAMES))
            after[r] = rb[-1]
        return out, after

    def _fit_router(self, lps: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float]:
        """``theta`` minimising held-out bits of the routed mixture (golden section, coordinate-wise)."""
        summaries, _ = self._summaries(lps, y, np.zeros(len(lps)))
        idx = np.arange(len(y))

        def bits(theta: np.ndarray) -> float:
            w = SummaryRouter(theta, names=SUMMARY_NAMES).route(summaries).weights
            return float(-SummaryRouter.combine(w, lps)[idx, y].mean() / LN2)

        theta = np.array([-1.0, 0.0])
        for _sweep in range(2):
            for j, (lo, hi) in enumerate(((-32.0, 0.0), (-64.0, 64.0))):
                def f(v: float, j: int = j) -> float:
                    t = theta.copy()
                    t[j] = v
                    return bits(t)
                theta[j] = golden_min(f, lo, hi, iters=16)
        return theta, bits(theta)

    # ------------------------------------------------------------------ prediction
    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 14) -> Iterator[np.ndarray]:
        self._require_fitted()
        assert self.readouts is not None
        x = as_byte_array(data)
        states = [v.init_state() for v in self.views]
        run = np.zeros(len(self.views))
        for s in range(0, len(x), chunk_size):
            xs = np.asarray(x[s:s + chunk_size])
            lps = []
            for r, (v, ro) in enumerate(zip(self.views, self.readouts)):
                feats, states[r] = v.scan(xs, states[r])
                lps.append(ro.log_probs(feats))
            if len(lps) == 1:
                yield lps[0]
                continue
            summaries, run = self._summaries(lps, xs, run)
            yield SummaryRouter.combine(self.router.route(summaries).weights, lps)

    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        self._require_fitted()
        return log_probs_from_chunks(self, x)

    def stream(self) -> Stream:
        self._require_fitted()
        return _ExpertStream(self)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        d = asdict(self.config)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def state_tensors(self) -> dict[str, np.ndarray]:
        self._require_fitted()
        assert self.readouts is not None
        t: dict[str, np.ndarray] = {}
        for r, (v, ro) in enumerate(zip(self.views, self.readouts)):
            t[f"route{r}.W"] = ro.W
            t[f"route{r}.tau_lam_eps"] = np.array([ro.tau, ro.lam, ro.eps])
            t.update({f"route{r}.view.{k}": a for k, a in v.params().items()})
        if len(self.views) > 1:
            t["router.theta"] = self.router.theta
        return t

    def extra_state(self) -> dict[str, Any]:
        return {"fit_report": self.report.to_dict() if self.report else None}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> FrozenReadoutExpert:
        cfg: dict[str, Any] = {k: tuple(v) if k in ("routes", "ridge_lambdas") else v for k, v in config.items()}
        obj = cls(FrozenReadoutConfig(**cfg))
        readouts = []
        for r, v in enumerate(obj.views):
            try:
                readouts.append(RidgeReadout.from_tensors(tensors[f"route{r}.W"], tensors[f"route{r}.tau_lam_eps"],
                                                          v.feature_size))
            except ValueError as e:
                raise ValueError(f"route {r}: {e}") from None
            if v.needs_fit:
                p = f"route{r}.view."
                v.load_params({k[len(p):]: a for k, a in tensors.items() if k.startswith(p)})
        if len(obj.views) > 1:
            obj.router = SummaryRouter(tensors["router.theta"], names=SUMMARY_NAMES)
        obj.readouts = readouts
        return obj

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "config": self.config_dict(), "fitted": self.fitted,
                "features": [v.feature_size for v in self.views]}


class _ExpertStream(Stream):
    """Byte-by-byte twin of ``iter_log_probs``: each route's view step and readout, then the router."""

    def __init__(self, model: FrozenReadoutExpert) -> None:
        assert model.readouts is not None
        self.m = model
        self.states = [v.init_state() for v in model.views]
        self.run = np.zeros(len(model.views))
        self.lam = ema_decay(model.config.route_half_life)
        self._rows: list[np.ndarray] | None = None
        self._cache: np.ndarray | None = None

    def _route_rows(self) -> list[np.ndarray]:
        if self._rows is None:
            m = self.m
            assert m.readouts is not None
            self._rows = [ro.log_probs(v.features_of(st)[None, :]) for v, ro, st in
                          zip(m.views, m.readouts, self.states)]
        return self._rows

    def log_probs(self) -> np.ndarray:
        if self._cache is None:
            rows = self._route_rows()
            if len(rows) == 1:
                self._cache = rows[0][0]
            else:
                summaries = [ControllerSummary(np.array([[self.run[r], bridge_feature_arrays(lp).entropy[0]]]),
                                               SUMMARY_NAMES) for r, lp in enumerate(rows)]
                w = self.m.router.route(summaries).weights
                self._cache = SummaryRouter.combine(w, rows)[0]
        return self._cache

    def push(self, byte: int) -> None:
        b = byte  # checked by Stream (check_byte)
        if len(self.states) > 1:  # the router's running losses
            for r, lp in enumerate(self._route_rows()):
                self.run[r] = self.lam * self.run[r] + (1.0 - self.lam) * (-lp[0, b] / LN2)
        self.states = [v.step(st, b) for v, st in zip(self.m.views, self.states)]
        self._rows = None
        self._cache = None

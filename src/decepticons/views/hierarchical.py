"""Hierarchical view: a gated fast/mid/slow cascade with pooled and predictive features.

Reads the frozen parameters of a :class:`~decepticons.substrates.hierarchical.HierarchicalSubstrate`
(embedding ``E``, projections ``P_f, P_m, P_s``, decays ``lambda_f, lambda_m, lambda_s``) and runs the cascade
with pathway gates (:class:`~decepticons.control.gates.PathwayGateController`)::

    f_t = lambda_f f_{t-1} + (1 - lambda_f) P_f E x_t
    q^f_t = surprise of f_t given f_{t-1}            g^fm_t = gate(q^f_t)
    m_t = lambda_m m_{t-1} + (1 - lambda_m) g^fm_t P_m f_t
    q^m_t = surprise of m_t given m_{t-1}            g^ms_t = gate(q^m_t)
    s_t = lambda_s s_{t-1} + (1 - lambda_s) g^ms_t P_s m_t

(with gates off, ``g = 1`` and the cascade is the substrate's own). Cross-level surprise: how well the slower
level anticipated the faster one, ``e^fm_t`` = surprise of ``f_t`` given ``m_{t-1}``, ``e^ms_t`` = surprise of
``m_t`` given ``s_{t-1}`` (each a :class:`~decepticons.control.surprise.PredictiveSurpriseController`).
Record after byte t::

    R_t = [f_t, m_t, s_t (include_state),
           mean, energy, drift of each level (pooled, 9),
           q^f, q^m, e^fm, e^ms and log(1 + .) of each (surprise, 8),  g^fm_t, g^ms_t (gates, 2)]

Every quantity at t reads bytes <= t; the cascade stays linear given the gates and is scanned exactly level by
level. Memory: the two held gate values and the absolute position (for the gates' refresh stride). Fitted
parts (first ``fit_bytes`` training bytes, in cascade order): the four predictors and the gates'
standardisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..control.gates import PathwayGateConfig, PathwayGateController
from ..control.summary import ControllerSummaryBuilder, SummaryConfig
from ..control.surprise import PredictiveSurpriseController
from ..errors import InputError
from ..substrates import HierarchicalSubstrate, Substrate, linear_scan
from ..validation import Validated, spec
from .base import RecordView

_PREDICTORS = ("fast", "mid", "fast_from_mid", "mid_from_slow")


@dataclass
class HierarchicalViewConfig(Validated):
    include_state: bool = spec(True, doc="keep the three levels' states in the features")
    gates: bool = spec(True, doc="gate the fast->mid and mid->slow paths from the levels' surprise")
    gate_options: dict[str, Any] = spec(default_factory=dict, doc="PathwayGateConfig options")
    pooled: bool = spec(True, doc="mean, energy and drift of each level")
    surprise: bool = spec(True, doc="self and cross-level surprise features")
    fit_bytes: int = spec(1 << 17, lo=2, hi=1 << 40, doc="training bytes the predictors are fitted on")

    def check(self) -> None:
        PathwayGateConfig.from_dict(self.gate_options)
        if not (self.include_state or self.pooled or self.surprise or self.gates):
            raise InputError("HierarchicalViewConfig: every feature group is off (no features)")


def _prev(H: np.ndarray, h0: np.ndarray) -> np.ndarray:
    out = np.empty_like(H)
    out[0] = h0
    out[1:] = H[:-1]
    return out


class HierarchicalFeatureView(RecordView):
    kind = "hierarchical"
    substrates = ("hierarchical",)
    needs_fit = True
    config_cls = HierarchicalViewConfig

    def __init__(self, substrate: Substrate, config: HierarchicalViewConfig | None = None) -> None:
        super().__init__(substrate, config or HierarchicalViewConfig())
        n = self.substrate.config.level_width
        self.n = n
        self.gates = PathwayGateController(PathwayGateConfig.from_dict(self.config.gate_options))
        self.predictors = {p: PredictiveSurpriseController(n, n) for p in _PREDICTORS}
        self.builder = ControllerSummaryBuilder(SummaryConfig(state_reductions=("mean", "energy", "drift")),
                                                bands=[slice(i * n, (i + 1) * n) for i in range(3)],
                                                band_names=("fast", "mid", "slow"))

    @property
    def feature_size(self) -> int:
        c = self.config
        return 3 * self.n * c.include_state + 9 * c.pooled + 8 * c.surprise + 2 * c.gates

    @property
    def memory_size(self) -> int:
        return 3

    def init_memory(self) -> np.ndarray:
        g = self.gates.config
        return np.array([1.0 / (1.0 + np.exp(-g.fast_to_mid_bias)), 1.0 / (1.0 + np.exp(-g.mid_to_slow_bias)), 0.0])

    def _cascade(self, x: np.ndarray, h0: np.ndarray, memory: np.ndarray, fit: bool = False) -> dict[str, Any]:
        sub, n = self.substrate, self.n
        assert isinstance(sub, HierarchicalSubstrate)  # FeatureView.__init__ admits only the hierarchical kind
        lf, lm, ls = sub.lams
        f0, m0, s0 = h0[:n], h0[n:2 * n], h0[2 * n:]
        pos = int(memory[2])
        F = linear_scan(lf, (1 - lf) * (sub.embedding[x] @ sub.P_f), f0)
        Fp = _prev(F, f0)
        if fit:
            self.predictors["fast"].fit(Fp, F)
        qf = self.predictors["fast"].observe(Fp, F).surprise
        if self.config.gates:
            if fit:
                self.gates.fit("fast_to_mid", qf)
            gfm, held_fm = self.gates.gate("fast_to_mid", qf, pos, float(memory[0]))
        else:
            gfm, held_fm = np.ones(len(x)), float(memory[0])
        M = linear_scan(lm, (1 - lm) * (gfm[:, None] * (F @ sub.P_m)), m0)
        Mp = _prev(M, m0)
        if fit:
            self.predictors["mid"].fit(Mp, M)
        qm = self.predictors["mid"].observe(Mp, M).surprise
        if self.config.gates:
            if fit:
                self.gates.fit("mid_to_slow", qm)
            gms, held_ms = self.gates.gate("mid_to_slow", qm, pos, float(memory[1]))
        else:
            gms, held_ms = np.ones(len(x)), float(memory[1])
        S = linear_scan(ls, (1 - ls) * (gms[:, None] * (M @ sub.P_s)), s0)
        Sp = _prev(S, s0)
        if fit:
            self.predictors["fast_from_mid"].fit(Mp, F)
            self.predictors["mid_from_slow"].fit(Sp, M)
        efm = self.predictors["fast_from_mid"].observe(Mp, F).surprise
        ems = self.predictors["mid_from_slow"].observe(Sp, M).surprise
        return {"H": np.concatenate([F, M, S], axis=1), "q": np.stack([qf, qm, efm, ems], axis=1),
                "g": np.stack([gfm, gms], axis=1), "memory": np.array([held_fm, held_ms, float(pos + len(x))])}

    def fit(self, x: np.ndarray) -> None:
        xs = np.asarray(x[:self.config.fit_bytes])
        if len(xs) < 2:
            raise InputError(f"the hierarchical view needs at least 2 training bytes, got {len(xs)}")
        self._cascade(xs, self.substrate.init_state(), self.init_memory(), fit=True)
        self._fitted = True

    def params(self) -> dict[str, np.ndarray]:
        out = self.gates.params("gates")
        for name, p in self.predictors.items():
            out.update(p.params(f"surprise.{name}"))
        return out

    def load_params(self, tensors: dict[str, np.ndarray]) -> None:
        self.gates.load_params(tensors, "gates")
        for name, p in self.predictors.items():
            p.load_params(tensors, f"surprise.{name}")
        self._fitted = True

    def records(self, x: np.ndarray, h0: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.config
        out = self._cascade(x, h0, memory)
        H = out["H"]
        parts = [H] if c.include_state else []
        if c.pooled:
            parts.append(self.builder.from_states(H, h0).values)
        if c.surprise:
            parts += [out["q"], np.log1p(out["q"])]
        if c.gates:
            parts.append(out["g"])
        return np.concatenate(parts, axis=1), H[-1].copy(), out["memory"]

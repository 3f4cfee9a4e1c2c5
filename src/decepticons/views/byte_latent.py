"""Byte-latent view: learned patches over the byte stream, a committed latent per patch, and prediction inside
a patch from the committed latent plus the residual.

Per byte t, over any substrate (state ``h_t: float64[d]`` after byte t)::

    z_t        = h_t Q                                   latent, Q: float64[d, k] frozen orthonormal projection
    s_t        = surprise of z_t given z_{t-1}           PredictiveSurpriseController (closed-form fit)
    b_t, pi_t  = LearnedSegmenter(s_<=t)                 patch ends after byte t?  boundary probability
    c_t, rho_t = LatentCommitter(z_<=t, b_<=t)           committed latent of the latest patch, z_t - c_t
    n_t        = position of byte t+1 in its patch       1 if b_t else j_t + 1  (one-hot over max_patch slots)

    record R_t = [h_t (include_state), c_t, rho_t (commit), onehot(n_t), pi_t, s_t, log(1 + s_t) (surprise)]

and the feature row for byte t is ``R_{t-1}`` (:class:`~decepticons.views.base.RecordView`). The readout thus
predicts the bytes of a patch from the latent committed at its start, the residual of the byte-level latent
against it and the position inside the patch. Memory: segmenter state and committer state. Fitted part: the
latent predictor (on the first ``fit_bytes`` training bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..control.segmenter import STATE_SIZE as SEG_STATE
from ..control.segmenter import LearnedSegmenter, SegmenterConfig, SegmentRecord
from ..control.surprise import PredictiveSurpriseController
from ..errors import InputError
from ..substrates import Substrate
from ..validation import Validated, spec
from .base import RecordView
from .latent import LatentCommitter


@dataclass
class ByteLatentConfig(Validated):
    latent_dim: int = spec(16, lo=1, hi=1024, doc="k, width of the latent projection")
    include_state: bool = spec(True, doc="keep the substrate state in the features")
    commit: bool = spec(True, doc="committed latent and within-patch residual features")
    surprise: bool = spec(True, doc="surprise features")
    segmenter: dict[str, Any] = spec(default_factory=dict, doc="LearnedSegmenter options (SegmenterConfig)")
    fit_bytes: int = spec(1 << 17, lo=2, hi=1 << 40, doc="training bytes the latent predictor is fitted on")
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        SegmenterConfig.from_dict(self.segmenter)


class ByteLatentFeatureView(RecordView):
    kind = "byte_latent"
    needs_fit = True
    config_cls = ByteLatentConfig

    def __init__(self, substrate: Substrate, config: ByteLatentConfig | None = None) -> None:
        cfg = config or ByteLatentConfig()
        super().__init__(substrate, cfg)
        d, k = substrate.state_size, cfg.latent_dim
        if k > d:
            raise InputError(f"ByteLatentConfig.latent_dim = {k} exceeds the substrate's state width {d}")
        rng = np.random.default_rng([cfg.seed, 0xB1A7])
        self.Q = np.linalg.qr(rng.standard_normal((d, k)))[0]
        self.segmenter = LearnedSegmenter(SegmenterConfig.from_dict(cfg.segmenter))
        self.committer = LatentCommitter(k)
        self.predictor = PredictiveSurpriseController(k, k)
        self.max_patch = self.segmenter.config.max_patch

    @property
    def feature_size(self) -> int:
        c = self.config
        return (self.substrate.state_size * c.include_state + 2 * c.latent_dim * c.commit + self.max_patch + 1
                + 2 * c.surprise)

    @property
    def memory_size(self) -> int:
        return SEG_STATE + self.committer.state_size

    def init_memory(self) -> np.ndarray:
        return np.concatenate([self.segmenter.init_state(), self.committer.init_state()])

    def _latents(self, H: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Zf = np.concatenate([h0[None, :], H], axis=0) @ self.Q
        return Zf[:-1], Zf[1:]

    def fit(self, x: np.ndarray) -> None:
        xs = np.asarray(x[:self.config.fit_bytes])
        if len(xs) < 2:
            raise InputError(f"the byte-latent view needs at least 2 training bytes, got {len(xs)}")
        h0 = self.substrate.init_state()
        Zp, Z = self._latents(self.substrate.scan(xs, h0), h0)
        self.predictor.fit(Zp, Z)
        self._fitted = True

    def params(self) -> dict[str, np.ndarray]:
        return self.predictor.params("surprise")

    def load_params(self, tensors: dict[str, np.ndarray]) -> None:
        self.predictor.load_params(tensors, "surprise")
        self._fitted = True

    def patches(self, x: np.ndarray) -> SegmentRecord:
        """The learned segmentation of ``x: uint8[T]`` read from the start state (needs :meth:`fit`): which bytes
        end a patch, the boundary probability and each byte's position in its patch (:class:`SegmentRecord`)."""
        x = np.asarray(x)
        if x.ndim != 1 or len(x) == 0:
            raise InputError(f"patches needs a non-empty 1-D byte array, got shape {x.shape}")
        if not self._fitted:
            raise InputError("the byte-latent view is not fitted: fit it (or the coder that owns it) first")
        h0 = self.substrate.init_state()
        Zp, Z = self._latents(self.substrate.scan(x, h0), h0)
        return self.segmenter.segment(self.predictor.observe(Zp, Z).surprise, self.segmenter.init_state())[0]

    def records(self, x: np.ndarray, h0: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.config
        H = self.substrate.scan(x, h0)
        Zp, Z = self._latents(H, h0)
        sr = self.predictor.observe(Zp, Z)
        seg, seg_end = self.segmenter.segment(sr.surprise, memory[:SEG_STATE])
        com, com_end = self.committer.commit(Z, seg.boundary, memory[SEG_STATE:])
        nxt = np.where(seg.boundary, 1, seg.length + 1)
        onehot = np.zeros((len(x), self.max_patch))
        onehot[np.arange(len(x)), nxt - 1] = 1.0
        parts = [H] if c.include_state else []
        if c.commit:
            parts += [com.committed, com.residual]
        parts += [onehot, seg.probability[:, None]]
        if c.surprise:
            parts.append(sr.features())
        return np.concatenate(parts, axis=1), H[-1].copy(), np.concatenate([seg_end, com_end])

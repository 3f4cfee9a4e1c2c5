"""Two sides of every byte: a forward model and a backward model fitted on the reversed bytes.

For ``x: uint8[T]`` the forward model gives ``log p_f(. | x_<t)`` (row t of ``forward.log_probs(x)``); the
backward model, fitted on reversed corpora, gives ``log p_b(. | x_>t)`` as row ``T - 1 - t`` of
``backward.log_probs(x[::-1])`` (it reads the bytes after t nearest first). The unigram prior
``log p_0(c) = log((n_c + 1/2) / (N + 128))`` is counted from the training bytes. Both models are any
registered causal kinds (:mod:`.components`), so a stronger memory on either side is a configuration change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..predictor import CausalPredictor
from ..registry import model_class
from .components import build_component


def reversed_bytes(x: np.ndarray) -> np.ndarray:
    """``x[::-1]`` as a contiguous ``uint8`` array."""
    return np.ascontiguousarray(np.asarray(x, dtype=np.uint8)[::-1])


def unigram_log_prior(x: np.ndarray) -> np.ndarray:
    """``float64[256]``: ``log((n_c + 1/2) / (N + 128))`` from the byte counts of ``x``."""
    n = np.bincount(np.asarray(x, dtype=np.uint8), minlength=256).astype(np.float64)
    return np.log((n + 0.5) / (n.sum() + 128.0))


class SidePair:
    """A forward and a backward model (components, see :mod:`.components`) and the unigram prior."""

    def __init__(self, forward: dict[str, Any], backward: dict[str, Any], seed: int = 0, what: str = "a side") -> None:
        self.specs = (forward, backward)
        self.forward: CausalPredictor = build_component(forward, seed=seed, what=f"the forward model of {what}")
        self.backward: CausalPredictor = build_component(backward, seed=seed, what=f"the backward model of {what}")
        self.prior = np.full(256, -np.log(256.0))

    def fit(self, x: np.ndarray, workers: int = 1) -> dict[str, Any]:
        """Fit the forward model on ``x``, the backward model on ``x`` reversed, the prior on its counts."""
        f = self.forward.fit(x, workers=workers)  # type: ignore[attr-defined]
        b = self.backward.fit(reversed_bytes(x), workers=workers)  # type: ignore[attr-defined]
        self.prior = unigram_log_prior(x)
        return {"forward": f.to_dict(), "backward": b.to_dict()}

    def forward_blocks(self, x: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
        """``[n, 256]`` blocks of ``log p_f(. | x_<t)`` in position order."""
        return self.forward.iter_log_probs(x, chunk_size=chunk)

    def backward_rows(self, x: np.ndarray) -> np.ndarray:
        """``float64[T, 256]``: row t is ``log p_b(. | x_>t)``."""
        if len(x) == 0:
            return np.zeros((0, 256))
        return self.backward.log_probs(reversed_bytes(x))[::-1]

    # ------------------------------------------------------------------ persistence
    def tensors(self) -> dict[str, np.ndarray]:
        out = {"prior": self.prior}
        for side, m in (("forward", self.forward), ("backward", self.backward)):
            out.update({f"{side}.{k}": v for k, v in m.state_tensors().items()})
        return out

    def extra(self) -> dict[str, Any]:
        return {"forward": self.forward.extra_state(), "backward": self.backward.extra_state()}

    def load(self, tensors: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        """Replace both models and the prior by the saved ones (``tensors`` / ``extra`` from :meth:`tensors` /
        :meth:`extra`)."""
        prior = np.ascontiguousarray(tensors["prior"], dtype=np.float64)
        if prior.shape != (256,):
            raise ValueError(f"prior has shape {prior.shape}, expected (256,)")
        self.prior = prior.copy()
        for i, side in enumerate(("forward", "backward")):
            fresh = getattr(self, side)
            sub = {k[len(side) + 1:]: v for k, v in tensors.items() if k.startswith(side + ".")}
            model = model_class(self.specs[i]["kind"]).from_state(fresh.config_dict(), sub, extra.get(side, {}))
            setattr(self, side, model)

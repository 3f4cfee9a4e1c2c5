"""``causal-bank``: the causal-bank torch model behind the predictor contract.

As in every torch predictor, row ``t`` predicts ``data[t]`` from ``data[:t]``: the module reads
``[BOS] + data[:-1]``. How far back a row looks depends on how the bank was trained:

* trained on detached windows of ``W`` bytes (``train_window = W``, the default recipe): every row is read
  from the bank's start state run over a window of the last ``H`` to ``2H`` bytes, ``H = W // 2``
  (:mod:`decepticons.windows`), so predictions stay in the distribution the bank was trained on however
  long the input. ``log_probs`` runs the overlapping windows in batches (each byte is read twice);
  ``stream`` carries two staggered states (two one-byte steps per byte). Both give the same rows.
* otherwise (untrained, or trained with the state carried across windows): one pass over the whole history.
  ``log_probs`` / ``iter_log_probs`` run the module over chunks carrying its state (memory bounded by the
  chunk, result equal to one pass); ``stream`` uses the module's one-byte ``step``.

Either way the stream gives the batched path's numbers within float32 rounding; the model file records
``train_window``, ``train_mode`` and ``scoring_window``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch

from ..codecs import BytesLike, as_byte_array
from ..predictor import Stream, log_probs_from_chunks, shift_right
from ..training.predictor import TorchPredictor
from ..training.windowed import StaggeredStateStream
from .config import CausalBankConfig
from .model_torch import CausalBankModel

#: bytes per module call when scoring (bounds activation memory: about 4 * chunk * (features + hidden) bytes)
SCORE_CHUNK = 8192


class CausalBankStream(Stream):
    """Step-by-step prediction carrying the bank's state; one ``step`` per pushed byte."""

    def __init__(self, predictor: CausalBankPredictor):
        self._module = predictor.module
        self._device = predictor.device
        self._state = self._module.init_state(1, self._device)
        self._lp: np.ndarray | None = None
        self._advance(predictor.bos_token)

    @torch.inference_mode()
    def _advance(self, byte: int) -> None:
        was = self._module.training
        self._module.eval()
        try:
            ids = torch.tensor([byte], dtype=torch.long, device=self._device)
            logits, self._state = self._module.step(ids, self._state)
        finally:
            self._module.train(was)
        self._lp = torch.log_softmax(logits[0].double(), dim=-1).cpu().numpy()

    def log_probs(self) -> np.ndarray:
        assert self._lp is not None
        return self._lp.copy()

    def push(self, byte: int) -> None:
        self._advance(byte)  # checked by Stream (check_byte)


class CausalBankPredictor(TorchPredictor):
    """Causal-bank next-byte model (PyTorch); configuration: :class:`~decepticons.causal_bank.CausalBankConfig`."""

    name: ClassVar[str] = "causal-bank"
    config_cls: ClassVar[type] = CausalBankConfig
    module: CausalBankModel  # built by build_module
    scores_in_train_window: ClassVar[bool] = True
    #: the trainer's defaults for this model: batch 8 x 512 bytes at a peak learning rate of 1e-2 (the same
    #: 4,096 bytes per step as the earlier 16 x 256 at 6e-3 and 32 x 256 at 3e-3 before it, so the same CPU
    #: time per token; longer windows also give every scored byte 256-511 bytes of history), weight decay 0.1
    #: and the cosine ending at 0; the ``bank-sweep`` section of docs/experiments.md measures each change
    train_defaults: ClassVar[dict[str, Any]] = {"batch_size": 8, "seq_len": 512, "lr": 1e-2,
                                                "weight_decay": 0.1, "min_lr": 0.0}

    @classmethod
    def build_module(cls, config: CausalBankConfig) -> CausalBankModel:
        return CausalBankModel(256, config)

    @classmethod
    def state_values(cls, config: CausalBankConfig) -> int:
        return config.state_values(256)

    @torch.no_grad()
    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        """Consecutive ``[n, 256]`` blocks of ``log_probs(data)``: windowed, or with the state carried."""
        x = as_byte_array(data)
        if self.window is not None:
            yield from super().iter_log_probs(x, chunk_size)
            return
        if len(x) == 0:
            return
        step = max(1, min(int(chunk_size), SCORE_CHUNK))
        was = self.module.training
        self.module.eval()
        try:
            state = self.module.init_state(1, self.device)
            for s in range(0, len(x), step):
                chunk = shift_right(x[s:s + step], int(x[s - 1]) if s > 0 else self.bos_token)
                ids = torch.from_numpy(chunk)[None].to(self.device)
                logits, state = self.module.forward_with_state(ids, state)
                yield torch.log_softmax(logits[0].double(), dim=-1).cpu().numpy()
        finally:
            self.module.train(was)

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return log_probs_from_chunks(self, data)

    def stream(self) -> Stream:
        if self.window is not None:
            return StaggeredStateStream(self.module, self.window, self.bos_token, self.device)
        return CausalBankStream(self)

    def describe(self) -> dict[str, Any]:
        cfg: CausalBankConfig = self.config
        return {**super().describe(), "substrate_mode": cfg.substrate_mode, "readout": cfg.readout,
                "features": cfg.num_features}

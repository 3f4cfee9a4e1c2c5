"""Training the causal bank on MLX with the torch recipe: :class:`MLXTrainer`, the shared loop with an MLX step.

Why a subclass of :class:`~.loop.Trainer` and not a second loop: everything around the step is backend-neutral
and stays shared (the data samplers and their seeded generator, so the same seed draws the same windows; the
learning-rate schedule and warm-up :func:`~.schedule.lr_at`; ``--steps`` / ``--budget`` with the measured
reserve for the final evaluation; logging to ``metrics.jsonl``; the checkpoint files). The subclass replaces
the few operations that touch the weights: :meth:`train_step`, :meth:`evaluate` (scored by the MLX predictor,
as ``decepticons score --backend mlx`` scores the saved file) and the two checkpoint hooks, which copy the MLX
weights and Adam moments into the torch module and optimizer (and back on resume), so checkpoints and the
final model are the torch files, byte-for-byte the same format: a run trained here loads and resumes in
torch, and the other way round.

One step (same objective and update as the torch step of :mod:`.loop`)::

    x, y = windows(offsets)                       (B, L) int32; the sampler's offsets, as torch draws them
    loss = mean_{b,t} [logsumexp z[b, t] - z[b, t, y[b, t]]]  (+ the routed readout's balance loss)
    g = d loss / d theta                          mx.value_and_grad, compiled once (mx.compile)
    g <- g * min(1, c / (||g||_2 + 1e-6))         global-norm clipping, c = grad_clip (as torch's clip_grad_norm_)
    theta <- AdamW(theta, g; lr_t, betas, eps, wd)   mlx.optimizers.AdamW with bias correction, one per torch
                                                  parameter group (matrices decayed; embeddings, norms,
                                                  biases and timescales not)

The bank's recurrences run as the chunked scans of :mod:`decepticons.causal_bank.scans_mlx`. Not
supported on MLX (an :class:`~decepticons.errors.InputError` before any work): teacher signals, sparse slow
updates (``slow_every > 1``), several processes, CUDA devices and model kinds other than ``causal-bank``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import torch

from ..codecs import BytesLike
from ..errors import InputError
from ..predictor import CausalPredictor
from .loop import Trainer
from .schedule import lr_at

Tree = dict[str, mx.array]


def _to_mx(t: torch.Tensor) -> mx.array:
    a = t.detach().cpu().numpy()
    return mx.array(a.astype(np.int32) if a.dtype == np.int64 else a)


def _to_torch(a: mx.array, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).to(like.dtype)


class MLXTrainer(Trainer):
    """The :class:`~.loop.Trainer` of a ``causal-bank`` predictor whose steps run on MLX (module docstring)."""

    def __init__(self, predictor: Any, train_data: BytesLike, valid_data: BytesLike | None = None,
                 config: Any = None, run_dir: Any = None, progress: bool | None = None, callback: Any = None,
                 teacher: Any = None):
        if predictor.name != "causal-bank":  # decepticons.backends.MLX_KINDS
            raise InputError(f"model kind {predictor.name!r} has no MLX implementation (MLX trains: causal-bank); "
                             "use --backend torch")
        if teacher is not None:
            raise InputError("teacher signals train on the torch backend only; drop --teacher or use --backend torch")
        super().__init__(predictor, train_data, valid_data, config, run_dir, progress, callback)
        cfg = self.cfg
        if cfg.slow_every > 1:
            raise InputError("sparse slow updates (train.slow_every > 1) train on the torch backend only")
        if self.world > 1 or self.device.type != "cpu":
            raise InputError("the MLX backend trains in one process on MLX's own device; drop --device / torchrun")
        from ..causal_bank.predictor_mlx import MLXCausalBankPredictor

        self.mlx = MLXCausalBankPredictor.from_torch(predictor)
        self.mmodel = self.mlx.model
        names = {id(p): n for n, p in self.module.named_parameters()}
        self.group_names = [[names[id(p)] for p in g["params"]] for g in self.opt.param_groups]
        self.mx_opts = [optim.AdamW(learning_rate=cfg.lr, betas=[cfg.beta1, cfg.beta2], eps=cfg.eps,
                                    weight_decay=float(g["weight_decay"]), bias_correction=True)
                        for g in self.opt.param_groups]
        trainable = {n for group in self.group_names for n in group}
        self.trainable: Tree = {n: v for n, v in self.mmodel.params.items() if n in trainable}
        self.frozen: Tree = {n: v for n, v in self.mmodel.params.items() if n not in trainable}
        for opt, group in zip(self.mx_opts, self.group_names):
            opt.init({n: self.trainable[n] for n in group})
        self._value_and_grad = mx.compile(mx.value_and_grad(self._loss))

    # ---------------------------------------------------------------------------------- the step
    def _loss(self, trainable: Tree, frozen: Tree, x: mx.array, y: mx.array, state: Tree
              ) -> tuple[mx.array, mx.array, Tree, mx.array]:
        m = self.mmodel
        m.params = {**frozen, **trainable}
        logits, new_state = m.forward_with_state(x, state)
        ce = mx.mean(mx.logsumexp(logits, axis=-1) - mx.take_along_axis(logits, y[..., None], axis=-1)[..., 0])
        extra = m.extra if m.extra is not None else mx.zeros(())
        return ce + extra, ce, new_state, extra

    def _set_params(self) -> None:
        self.mmodel.params = {**self.frozen, **self.trainable}
        self.mmodel.extra = None

    def train_step(self) -> dict[str, Any]:
        cfg = self.cfg
        offsets, reset = self.sampler.next_offsets()
        xt, yt = self.train_ds.windows(offsets, cfg.seq_len)
        x, y = _to_mx(xt), _to_mx(yt)
        if not self.carried or reset or self.state is None:
            self.state = self.mmodel.init_state(self.local_batch)
        lr = lr_at(cfg, self.step, self.elapsed, self.horizon)
        self.mmodel.train()
        (_, ce, new_state, extra), grads = self._value_and_grad(self.trainable, self.frozen, x, y, self.state)
        self._set_params()
        if cfg.grad_clip:
            grads, norm = optim.clip_grad_norm(grads, cfg.grad_clip)
        else:
            norm = mx.sqrt(sum((mx.sum(mx.square(g)) for g in grads.values()), mx.zeros(())))
        mx.eval(ce, norm, extra)
        lv, gnorm = float(np.array(ce)), float(np.array(norm))
        if not (math.isfinite(lv) and math.isfinite(gnorm)):  # before the step: the weights stay finite
            raise self._diverged(lv, gnorm)
        updated: Tree = {}
        for opt, group in zip(self.mx_opts, self.group_names):
            opt.learning_rate = lr
            updated.update(opt.apply_gradients({n: grads[n] for n in group}, {n: self.trainable[n] for n in group}))
        self.trainable = updated
        self._set_params()
        if self.carried:
            self.state = {k: mx.stop_gradient(v) for k, v in new_state.items()}
            mx.eval(self.state)
        mx.eval(self.trainable, [opt.state for opt in self.mx_opts])
        self.step += 1
        self.last_loss = lv
        return {"loss": lv, "lr": lr, "grad_norm": gnorm,
                "extra_loss": float(np.array(extra)) if self.mmodel.config.readout == "routed"
                and self.mmodel.config.balance_weight > 0 else None}

    # ---------------------------------------------------------------------------------- scoring
    def _scoring_predictor(self) -> CausalPredictor:
        """The MLX predictor of the weights being trained, with the trainer's window facts: what
        :meth:`.loop.Trainer.evaluate` scores."""
        self.mlx.train_window, self.mlx.train_mode = self.predictor.train_window, self.predictor.train_mode
        return self.mlx

    # ---------------------------------------------------------------------------------- torch files
    def export_to_torch(self) -> None:
        """Copy the MLX weights, Adam moments and step count into ``predictor.module`` and the torch AdamW."""
        named = dict(self.module.named_parameters())
        with torch.no_grad():
            for n, v in self.trainable.items():
                named[n].copy_(_to_torch(v, named[n]))
        for opt, group in zip(self.mx_opts, self.group_names):
            step = int(np.array(opt.state["step"]))
            for n in group:
                p = named[n]
                if step == 0:
                    self.opt.state.pop(p, None)
                    continue
                st = opt.state[n]
                self.opt.state[p] = {"step": torch.tensor(float(step)), "exp_avg": _to_torch(st["m"], p),
                                     "exp_avg_sq": _to_torch(st["v"], p)}

    def import_from_torch(self) -> None:
        """The reverse of :meth:`export_to_torch` (after a checkpoint was restored into the torch objects)."""
        named = dict(self.module.named_parameters())
        params = {n: _to_mx(t) for n, t in self.module.state_dict().items()}
        self.trainable = {n: params[n] for n in self.trainable}
        self.frozen = {n: params[n] for n in self.frozen}
        for opt, group in zip(self.mx_opts, self.group_names):
            opt.init({n: self.trainable[n] for n in group})
            steps = [int(self.opt.state[named[n]]["step"]) for n in group if named[n] in self.opt.state]
            for n in group:
                st = self.opt.state.get(named[n])
                if st is not None:
                    opt.state[n] = {"m": _to_mx(st["exp_avg"]), "v": _to_mx(st["exp_avg_sq"])}
            opt.state["step"] = mx.array(max(steps, default=0), dtype=mx.uint64)
        self._set_params()

    def _save_checkpoint(self) -> None:
        self.export_to_torch()
        mlx_state = self.state
        if self.carried and mlx_state is not None:  # the checkpoint files hold torch tensors
            like = cast(Any, self.module).init_state(self.local_batch)
            self.state = {k: _to_torch(v, like[k]) for k, v in mlx_state.items()}
        try:
            super()._save_checkpoint()
        finally:
            self.state = mlx_state

    def _load_checkpoint(self, path: Path) -> None:
        super()._load_checkpoint(path)
        self.import_from_torch()
        if self.state is not None:
            self.state = {k: _to_mx(v) for k, v in self.state.items()}

    def run(self, resume: bool = False) -> Any:
        """:meth:`.loop.Trainer.run`, then the final weights copied into ``predictor.module`` (what ``save``
        writes)."""
        try:
            return super().run(resume=resume)
        finally:
            self.export_to_torch()


def fit_mlx(predictor: Any, data: BytesLike, valid: BytesLike | None = None, progress: bool | None = None,
            fresh: bool = True, **train_kwargs: Any) -> Any:
    """Train an :class:`~decepticons.causal_bank.predictor_mlx.MLXCausalBankPredictor` in place with
    :class:`MLXTrainer`: from the initialisation of its ``seed`` (``fresh``, as ``fit``) or from its current
    weights (as ``partial_fit``); the options, defaults and the :class:`~decepticons.runtime.reports.FitReport`
    are those of :meth:`decepticons.training.predictor.TorchPredictor.partial_fit`."""
    from ..causal_bank.model_mlx import CausalBankModel
    from ..causal_bank.predictor import CausalBankPredictor
    from ..causal_bank.predictor_mlx import MLXCausalBankPredictor

    if fresh:
        predictor.model = CausalBankModel(256, predictor.config)  # the seed's initial weights (built by torch)
        predictor.train_window = predictor.train_mode = None
    twin = CausalBankPredictor.from_state(predictor.config_dict(), predictor.state_tensors(), predictor.extra_state())
    twin.seed = predictor.seed
    report = twin.partial_fit(data, valid=valid, progress=progress, trainer_cls=MLXTrainer, **train_kwargs)
    trained = MLXCausalBankPredictor.from_torch(twin)
    predictor.model, predictor.train_window, predictor.train_mode = trained.model, twin.train_window, twin.train_mode
    return report


__all__ = ["MLXTrainer", "fit_mlx"]

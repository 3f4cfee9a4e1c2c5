"""The training loop: one trainer for every gradient-trained torch model (a :class:`~.hooks.TrainablePredictor`).

Objective. For a window ``w = data[o : o + L + 1]`` the module sees ``x = w[:-1]`` (``(B, L)`` long) and
returns logits ``z`` of shape ``(B, L, 256)``; the loss is the mean next-byte cross-entropy
``loss = -mean_{b,t} log softmax(z[b, t])[w[b, t + 1]]`` (nats; divide by ln 2 for bits per byte) plus the
module's optional auxiliary loss ``module.extra_loss()`` (e.g. an MoE balance or ACT ponder cost). With a
teacher signal (:mod:`.distill`: one teacher row per training byte, window position ``t`` paired with row
``o + 1 + t``) the cross-entropy becomes ``(1 - a) * CE + a * tau^2 * KL(teacher || student)`` (``a`` =
``teacher_weight``, ``tau`` = ``teacher_temperature``) and every evaluation also reports the student-teacher
KL and top-1 agreement; without one the objective and every number are unchanged. The
module's optional hooks are the protocols of :mod:`.hooks`: before each forward the trainer passes the run
progress to ``set_training_progress``, after each optimizer step it calls ``after_optimizer_step``.

Optimisation. AdamW with decoupled weight decay ``p <- p - lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)``;
matrices are decayed, norms, biases and embeddings are not. The learning rate warms up linearly over
``warmup_steps`` and then follows a cosine from ``lr`` to ``min_lr`` over the run: the run's length is
the step budget when given (``max_steps``, or ``max_tokens`` bytes: ``TrainConfig.step_budget``; the
schedule, warm-up, run progress and evaluation points then follow steps only, never the clock, so a run is
reproducible whatever the host's load), else the wall-clock ``budget_seconds`` (progress = elapsed / training
time); with a time budget the warm-up also ends after ``warmup_fraction`` of the training time
(:func:`.schedule.lr_at`).
A time budget covers the whole run, final evaluation included (:mod:`.budget`).
Gradients are clipped to a global L2 norm of ``grad_clip``.

Train modes.

* ``detached``: every window is drawn at a random offset and starts from the module's zero state.
* ``carried``: the batch is ``B`` parallel streams over ``B`` contiguous segments of the corpus; window
  ``k`` of stream ``b`` starts at ``b * S + k * L`` and starts from the state the stream reached at the end
  of window ``k - 1`` (``module.forward_with_state(x, state) -> (logits, state)``), detached from the graph:
  truncated backpropagation through time with truncation length ``L``. Streams restart from
  ``module.init_state(B)`` when they reach the end of their segment.
* sparse slow updates (``slow_every = k > 1``): the parameters named by ``slow_params`` (fnmatch patterns,
  or the module's ``slow_parameters()`` hook) accumulate their gradients and take one AdamW step every ``k``
  steps with the mean gradient of those ``k`` steps; the other parameters step every time.

The trainer records on the predictor what it trains for (``train_window = seq_len`` in detached mode,
``None`` in carried mode; ``train_mode``); a predictor that scores in windows (``scores_in_train_window``)
then reads every row from a window of that length, so its predictions stay in the training distribution
for inputs of any length. Evaluation is in bits per byte on the first ``eval_bytes`` held-out bytes, through
the predictor's own scoring path: the figure equals ``predictor.score(valid[:eval_bytes])`` and
``decepticons score`` of the saved model on the same bytes.

Runs are resumable: a checkpoint (model file + optimizer state + RNG states + data position + carried
state + step) is written atomically into ``run_dir/checkpoints/``; resuming reproduces the uninterrupted
run's loss curve exactly for the same seed. Multi-process data parallel training works under ``torchrun``
(DDP; gloo on CPU, NCCL on GPU): every rank draws the same global batch and keeps its own shard of it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError, ModelFileError
from ..predictor import LN2
from .budget import PLOT_SECONDS, PROBE_BYTES, EvalClock, FinalPlan, final_plan
from .checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import ByteDataset, CarriedWindows, RandomWindows, split_train_valid
from .distill import TeacherSignal, agreement_summary, distillation_terms, teacher_rows_torch
from .distributed import Stepper, broadcast_from_main, init_distributed, mean_over_ranks, parse_device
from .evaluation import evaluate
from .hooks import (
    AfterOptimizerStep,
    FindsUnusedParameters,
    MetricsSink,
    StatefulModule,
    TrainablePredictor,
    TrainingProgress,
)
from .optim import clip_gradients, parameter_groups, slow_parameter_names
from .plots import plot_learning_curves
from .result import TrainResult
from .schedule import lr_at, run_progress

_Rows = TypeVar("_Rows", torch.Tensor, np.ndarray)


def tree_map(fn: Callable[[torch.Tensor], Any], tree: Any) -> Any:
    """Apply ``fn`` to every tensor of a nested tuple/list/dict state."""
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, t) for t in tree)
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    return tree


class Trainer:
    """State of one training run; :func:`train` is the usual entry point."""

    def __init__(self, predictor: TrainablePredictor, train_data: BytesLike, valid_data: BytesLike | None = None,
                 config: TrainConfig | None = None, run_dir: str | os.PathLike[str] | None = None,
                 progress: bool | None = None, callback: Callable[[int, dict[str, Any]], None] | None = None,
                 teacher: TeacherSignal | None = None):
        self._born = time.perf_counter()  # a time budget counts from here
        self._born_cpu = time.process_time()
        self.predictor = predictor
        self.cfg = config or TrainConfig()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.callback = callback
        self.sink = callback if isinstance(callback, MetricsSink) else None
        self.rank, self.world = init_distributed(self.cfg.device)
        cfg = self.cfg
        if cfg.batch_size % self.world:
            raise InputError(f"batch_size {cfg.batch_size} is not divisible by the {self.world} processes")
        self.local_batch = cfg.batch_size // self.world

        dev = cfg.device or str(predictor.device)
        if self.world > 1 and dev.startswith("cuda"):
            dev = f"cuda:{int(os.environ.get('LOCAL_RANK', self.rank))}"
        self.device = parse_device(dev)
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)
        predictor.module.to(self.device)
        predictor.device = self.device
        self.module: nn.Module = predictor.module

        train_arr = as_byte_array(train_data, name="training data")
        if teacher is not None:
            if not isinstance(teacher, TeacherSignal):
                raise InputError(f"a teacher needs window_targets, dense_log_probs, check_corpus and identity; "
                                 f"{type(teacher).__name__} lacks some")
            teacher.check_corpus(train_arr, "training data")
        self.teacher = teacher
        #: the teacher's row of the first held-out byte when the held-out bytes are cut from its corpus
        self.teacher_valid_start: int | None = None
        self.teacher_facts = None if teacher is None else {
            "identity": teacher.identity, "weight": cfg.teacher_weight, "temperature": cfg.teacher_temperature}
        if valid_data is None:
            if cfg.valid_fraction > 0:
                train_arr, valid_arr = split_train_valid(train_arr, cfg.valid_fraction)
                self.teacher_valid_start = len(train_arr)
            else:
                valid_arr = None
        else:
            valid_arr = as_byte_array(valid_data, name="validation data")
            if len(valid_arr) == 0:
                raise InputError("validation data is empty")
        self.train_ds = ByteDataset(train_arr, "training data")
        self.valid = valid_arr
        carried = cfg.mode == "carried"
        if carried and not isinstance(self.module, StatefulModule):
            raise InputError(f"train mode 'carried' needs a module with forward_with_state and init_state; "
                             f"{type(self.module).__name__} has none")
        self.carried = carried
        self.follows_progress = isinstance(self.module, TrainingProgress)
        self.after_step_hook = isinstance(self.module, AfterOptimizerStep)
        self.sampler: RandomWindows | CarriedWindows = (
            CarriedWindows(self.train_ds, cfg.batch_size, cfg.seq_len) if carried
            else RandomWindows(self.train_ds, cfg.batch_size, cfg.seq_len, cfg.seed))

        self.slow_names = slow_parameter_names(self.module, cfg)
        named = dict(self.module.named_parameters())
        self.slow_params = [named[n] for n in self.slow_names]
        self.slow_acc = [torch.zeros_like(p) for p in self.slow_params]
        groups = parameter_groups(self.module, cfg.weight_decay)
        if not groups:
            raise InputError(f"{type(self.module).__name__} has no trainable parameters")
        fused = self.device.type == "cuda"
        self.opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                     weight_decay=cfg.weight_decay, **({"fused": True} if fused else {}))
        self.params = [p for g in self.opt.param_groups for p in g["params"]]

        self.step = 0
        self.elapsed = 0.0  # wall-clock seconds of the run so far (all sessions)
        self.train_seconds = 0.0  # seconds spent in optimizer steps (throughput)
        self.state: Any = None
        self.curve: list[dict[str, Any]] = []
        self.last_loss: float | None = None
        self.eval_clock = EvalClock()  # measured evaluation cost (time budgets)
        self.reserve = 0.0  # seconds kept for the final phase
        self.last_step_seconds = 0.0
        self.last_ckpt_seconds = 0.0
        self._base_elapsed = 0.0  # elapsed of the earlier sessions (a resumed run)

        stepper = Stepper(self.module)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            unused = cfg.ddp_find_unused or (isinstance(self.module, FindsUnusedParameters)
                                              and bool(self.module.ddp_find_unused_parameters))
            self.net: nn.Module = DDP(stepper, device_ids=[self.device.index] if self.device.type == "cuda"
                                      else None, find_unused_parameters=unused)
        else:
            self.net = stepper
        # what the predictor is trained for: windows of seq_len from the start state, or a carried state
        predictor.train_window = None if carried else cfg.seq_len
        predictor.train_mode = cfg.mode

    # ---------------------------------------------------------------------------------- helpers
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _shard(self, t: _Rows) -> _Rows:
        """This rank's rows of a global batch (a tensor of windows or an array of offsets)."""
        return t[self.rank * self.local_batch:(self.rank + 1) * self.local_batch]

    def _save_checkpoint(self) -> None:  # a backend that trains elsewhere (.mlx_step) first copies its state in
        save_checkpoint(self)

    def _load_checkpoint(self, path: Path) -> None:  # ... and copies the restored state out afterwards
        load_checkpoint(self, path)

    @property
    def metrics_path(self) -> Path | None:
        return self.run_dir / "metrics.jsonl" if self.run_dir is not None else None

    def _log(self, record: dict[str, Any]) -> None:
        self.curve.append(record)
        if self.sink is not None and self.is_main:
            self.sink.log_metrics(record)
        path = self.metrics_path
        if path is not None and self.is_main:
            with open(path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def evaluate(self, data: np.ndarray | None = None, limit: int | None = None) -> float | None:
        """Bits per byte on the first ``limit`` (default ``eval_bytes``; 0: all) bytes of ``data`` (default the
        held-out split); the time it takes is recorded in :attr:`eval_clock`."""
        data = self.valid if data is None else data
        if data is None:
            return None
        n = self.cfg.eval_bytes if limit is None else limit
        if n:
            data = data[:n]
        t0 = time.perf_counter()
        value = evaluate(self._scoring_predictor(), data)
        self.eval_clock.record(len(data), time.perf_counter() - t0)
        return value

    def _scoring_predictor(self) -> Any:
        """The predictor :meth:`evaluate` scores: the one being trained (a backend's subclass may score another
        computation of the same weights)."""
        return self.predictor

    # ---------------------------------------------------------------------------------- the clock
    def _tick(self) -> None:
        """``elapsed``: the earlier sessions' seconds plus this session's wall clock since construction."""
        self.elapsed = self._base_elapsed + (time.perf_counter() - self._born)

    @property
    def horizon(self) -> float | None:
        """Training seconds of a time budget (the budget less the final phase's reserve), else ``None``."""
        b = self.cfg.budget_seconds
        return None if b is None else max(b - self.reserve, 1e-3 * b)

    def _final_plan(self) -> FinalPlan:
        """What the final phase scores (capped to ``budget_eval_share`` of a time budget) and its expected time."""
        cfg = self.cfg
        nv = 0 if self.valid is None else min(len(self.valid), cfg.eval_bytes or len(self.valid))
        nt = min(len(self.train_ds.data), cfg.eval_bytes or 65536)
        nk = 0 if self.teacher is None else (nv if self.teacher_valid_start is not None and self.valid is not None
                                             else nt)
        fixed = 0.0 if self.run_dir is None else self.last_ckpt_seconds + (PLOT_SECONDS if cfg.plot else 0.0)
        cap = None if cfg.budget_seconds is None or cfg.step_budget is not None else \
            cfg.budget_eval_share * cfg.budget_seconds
        return final_plan(self.eval_clock, nv, nt, nk, fixed, cap)

    def _update_reserve(self) -> None:
        """Re-estimate the final phase's seconds (rank 0's estimate on every rank)."""
        if self.cfg.budget_seconds is None:
            return
        self.reserve = self._final_plan().seconds
        if self.world > 1:
            self.reserve = broadcast_from_main(int(self.reserve * 1e6), self.device) / 1e6

    def _probe(self) -> None:
        """Measure evaluation cost before the first step."""
        data = self.valid if self.valid is not None else np.asarray(self.train_ds.data)
        for n in (64, 64, PROBE_BYTES):  # a warm-up call, the fixed cost of a call, the cost per byte
            self.evaluate(data, limit=min(len(data), n))

    def _fits(self, seconds: float) -> bool:
        """Whether ``seconds`` more still leave the final phase inside the time budget."""
        b = self.cfg.budget_seconds
        return b is None or self.cfg.step_budget is not None or self.elapsed + seconds + self.reserve < b

    def teacher_agreement(self, limit: int | None = None) -> dict[str, Any] | None:
        """KL(teacher || student) in bits and top-1 agreement on the held-out bytes the teacher covers (those
        cut from its corpus), else on the first training bytes; ``None`` without a teacher."""
        if self.teacher is None:
            return None
        if self.teacher_valid_start is not None and self.valid is not None:
            data, start, on = self.valid, self.teacher_valid_start, "valid"
        else:
            data, start, on = self.train_ds.data, 0, "train"
        n = self.cfg.eval_bytes or (len(data) if on == "valid" else 65536)
        x = np.asarray(data[:n if limit is None else limit])
        teacher = self.teacher

        def pairs() -> Any:
            pos = start
            for block in self.predictor.iter_log_probs(x, chunk_size=8192):
                yield block, teacher.dense_log_probs(pos, pos + len(block))
                pos += len(block)

        out: dict[str, Any] = agreement_summary(pairs())
        out["teacher_agreement_on"] = on
        return out

    # ---------------------------------------------------------------------------------- one step
    def train_step(self) -> dict[str, Any]:
        cfg = self.cfg
        offsets, reset = self.sampler.next_offsets()
        x, y = self.train_ds.windows(offsets, cfg.seq_len)
        x, y = self._shard(x).to(self.device), self._shard(y).to(self.device)
        teacher_lp = None
        if self.teacher is not None:
            teacher_lp = teacher_rows_torch(*self.teacher.window_targets(self._shard(offsets), cfg.seq_len),
                                            device=self.device)
        if self.carried and (reset or self.state is None):
            self.state = cast(StatefulModule, self.module).init_state(self.local_batch)
            self.state = tree_map(lambda t: t.to(self.device), self.state)
        lr = lr_at(cfg, self.step, self.elapsed, self.horizon)
        for g in self.opt.param_groups:
            g["lr"] = lr
        if self.follows_progress:  # curricula (e.g. plato_mythos's depth budget) follow the same run progress
            progress = run_progress(cfg, self.step, self.elapsed, self.horizon)
            cast(TrainingProgress, self.module).set_training_progress(progress)
        autocast = cfg.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits, new_state, extra = self.net(x, self.state, self.carried)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            total = loss if extra is None else loss + extra
            if teacher_lp is not None:
                kl = distillation_terms(logits, teacher_lp, cfg.teacher_temperature)
                a = cfg.teacher_weight
                total = (1 - a) * loss + a * kl + (0.0 if extra is None else extra)
        total.backward()
        if self.carried:
            self.state = tree_map(lambda t: t.detach(), new_state)
        slow_step = bool(self.slow_params) and (self.step + 1) % cfg.slow_every == 0
        for p, acc in zip(self.slow_params, self.slow_acc):
            if p.grad is not None:
                acc.add_(p.grad)
            if slow_step:
                p.grad = acc / cfg.slow_every
                acc.zero_()
            else:
                p.grad = None
        gnorm = clip_gradients(self.params, cfg.grad_clip)
        lv = float(loss.detach())
        if self.world > 1:  # the global batch's mean loss, for logging (and the same verdict on every rank)
            lv = mean_over_ranks(lv, self.device, self.world)
        kv = None
        if teacher_lp is not None:
            kv = float(kl.detach())
            if self.world > 1:
                kv = mean_over_ranks(kv, self.device, self.world)
            if not math.isfinite(kv):
                lv = kv  # the objective is not finite: refuse the step below
        if not (math.isfinite(lv) and math.isfinite(gnorm)):  # before the step: the weights stay finite
            self.opt.zero_grad(set_to_none=True)
            raise self._diverged(lv, gnorm)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.after_step_hook:
            cast(AfterOptimizerStep, self.module).after_optimizer_step()
        self.step += 1
        self.last_loss = lv
        rec = {"loss": lv, "lr": lr, "grad_norm": gnorm,
               "extra_loss": None if extra is None else float(extra.detach())}
        if kv is not None:
            rec["teacher_kl"] = kv
        return rec

    def _diverged(self, loss: float, gnorm: float) -> InputError:
        """The error that stops a run whose loss or gradient is no longer finite (nothing more is saved)."""
        what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {gnorm}"
        try:
            ck = latest_checkpoint(self.run_dir) if self.run_dir is not None else None
        except ModelFileError:
            ck = None
        kept = f"; the last checkpoint ({ck.name}) is kept" if ck is not None else ""
        clip = "" if self.cfg.grad_clip else " or clip gradients (train.grad_clip)"
        return InputError(f"training diverged at step {self.step + 1}: the {what} is not finite, so the run "
                          f"stops without saving{kept}; lower the learning rate (lr {self.cfg.lr:g}){clip}")

    # ---------------------------------------------------------------------------------- the loop
    def _should_stop(self) -> str | None:
        cfg = self.cfg
        reason = None
        steps = cfg.step_budget
        if steps is not None and self.step >= steps:
            reason = "steps" if steps == cfg.max_steps else "tokens"
        elif cfg.budget_seconds is not None and (self.elapsed + self.last_step_seconds + self.reserve
                                                 >= cfg.budget_seconds):
            reason = "budget"
        if self.world > 1 and cfg.budget_seconds is not None:  # one clock: the schedule is the same on every rank
            self.elapsed = broadcast_from_main(int(self.elapsed * 1e6), self.device) / 1e6
        if self.world > 1:  # every rank stops at the same step (rank 0's clock decides)
            code = broadcast_from_main({None: 0, "steps": 1, "budget": 2, "tokens": 3}[reason], self.device)
            reason = {0: None, 1: "steps", 2: "budget", 3: "tokens"}[code]
        return reason

    def run(self, resume: bool = False) -> TrainResult:
        cfg = self.cfg
        if cfg.step_budget is None and cfg.budget_seconds is None:
            raise InputError("give a step budget (max_steps / --steps), a token budget (max_tokens / --tokens) "
                             "or a time budget (budget_seconds / --budget)")
        torch.manual_seed(cfg.seed + self.rank)
        if self.run_dir is not None and self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            if self.run_dir is None:
                raise InputError("resume needs a run folder (--run-dir)")
            ck = latest_checkpoint(self.run_dir)
            if ck is None:
                raise ModelFileError(f"no checkpoint to resume in {self.run_dir}")
            self._load_checkpoint(ck)
            self._base_elapsed = self.elapsed
        elif self.run_dir is not None and self.is_main:
            mp = self.metrics_path
            if mp is not None and mp.exists():
                mp.unlink()
            ck = self.run_dir / "checkpoints"
            if ck.is_dir() and not ck.is_symlink():  # a fresh run: the old checkpoints (or their debris) go
                shutil.rmtree(ck)
        if self.run_dir is not None and self.is_main:
            (self.run_dir / "train_config.json").write_text(json.dumps(
                {"model": self.predictor.name, "model_config": self.predictor.config_dict(),
                 "train_config": cfg.to_dict(), "world_size": self.world}, indent=2, sort_keys=True))

        from ..runtime.progress import progress_enabled

        bar = None
        if self.is_main and progress_enabled(self.progress):
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.step_budget, initial=self.step, desc=f"train {self.predictor.name}",
                       unit="step", leave=False, dynamic_ncols=True)
        if cfg.budget_seconds is not None:
            if self.is_main:
                self._probe()
            self._update_reserve()
        self.module.train()
        tokens_per_step = cfg.batch_size * cfg.seq_len
        last_ckpt = time.perf_counter()
        stop = None
        try:
            while True:
                self._tick()
                stop = self._should_stop()
                if stop:
                    break
                t0 = time.perf_counter()
                rec = self.train_step()
                dt = time.perf_counter() - t0
                self.train_seconds += dt
                self.last_step_seconds = dt
                self._tick()
                if self.step % cfg.log_every == 0 or self.step == 1:
                    self._log({"step": self.step, **rec, "tokens": self.step * tokens_per_step,
                               "elapsed": round(self.elapsed, 4),
                               "tokens_per_s": round(tokens_per_step / dt, 1) if dt > 0 else None})
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.valid is not None:
                    # with a time budget an evaluation that would eat into the final phase's reserve is skipped
                    if self.is_main and self._fits(self.eval_clock.predict(
                            min(len(self.valid), cfg.eval_bytes or len(self.valid)))):
                        v = self.evaluate()
                        self._tick()
                        self._log({"step": self.step, "valid_bpb": v, "tokens": self.step * tokens_per_step,
                                   "elapsed": round(self.elapsed, 4),
                                   **(self.teacher_agreement() or {})})
                    self.module.train()
                    self._update_reserve()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{rec['loss'] / LN2:.3f}b", lr=f"{rec['lr']:.2e}")
                if self.callback is not None:
                    self.callback(self.step, rec)
                due = (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or (
                    cfg.checkpoint_seconds is not None and time.perf_counter() - last_ckpt >= cfg.checkpoint_seconds)
                if self.world > 1:  # the clock-based decision is rank 0's
                    due = bool(broadcast_from_main(int(bool(due)), self.device))
                if due and self.run_dir is not None:
                    t2 = time.perf_counter()
                    self._tick()
                    self._save_checkpoint()
                    last_ckpt = time.perf_counter()
                    self.last_ckpt_seconds = last_ckpt - t2
                    self._update_reserve()
        finally:
            if bar is not None:
                bar.close()
        valid_bpb = train_bpb = agreement = None
        self._tick()
        t_final = self.elapsed
        plan = self._final_plan()
        if self.is_main:
            valid_bpb = self.evaluate(limit=plan.valid_bytes)
            train_bpb = self.evaluate(np.asarray(self.train_ds.data[:plan.train_bytes]), limit=plan.train_bytes)
            agreement = self.teacher_agreement(limit=plan.teacher_bytes)
            self._tick()
            if valid_bpb is not None and not (self.curve and self.curve[-1].get("valid_bpb") is not None
                                              and self.curve[-1]["step"] == self.step):
                self._log({"step": self.step, "valid_bpb": valid_bpb, "tokens": self.step * tokens_per_step,
                           "elapsed": round(self.elapsed, 4),
                           **(agreement or {})})
        if self.run_dir is not None:
            self._tick()
            self._save_checkpoint()
            if self.is_main and cfg.plot:
                plot_learning_curves({self.predictor.name: self.curve}, self.run_dir / "learning_curve.png")
        self.module.eval()
        self._tick()
        return TrainResult(
            model=self.predictor.name, steps=self.step, tokens=self.step * tokens_per_step, seconds=self.elapsed,
            train_seconds=self.train_seconds, cpu_seconds=time.process_time() - self._born_cpu,
            parameters=sum(p.numel() for p in self.module.parameters()),
            stop_reason=stop or "?", final_loss=self.last_loss, train_bits_per_byte=train_bpb,
            valid_bits_per_byte=valid_bpb, valid_bytes=plan.valid_bytes, valid_capped=plan.capped,
            eval_seconds=self.elapsed - t_final, world_size=self.world,
            windows=cfg.mode, run_dir=str(self.run_dir) if self.run_dir is not None else None, curve=self.curve,
            teacher=agreement)


def train(predictor: TrainablePredictor, train_data: BytesLike, valid_data: BytesLike | None = None,
          config: TrainConfig | None = None, run_dir: str | os.PathLike[str] | None = None, resume: bool = False,
          progress: bool | None = None, callback: Callable[[int, dict[str, Any]], None] | None = None,
          teacher: TeacherSignal | None = None) -> TrainResult:
    """Train ``predictor`` (a :class:`TorchPredictor`) in place; see the module docstring.

    ``valid_data=None`` holds out the last ``config.valid_fraction`` of ``train_data``. With ``run_dir``
    the run writes ``metrics.jsonl``, ``learning_curve.png`` and checkpoints there; ``resume=True``
    continues from its latest checkpoint. ``callback(step, record)`` is called after every step. ``teacher``
    (a :class:`~.distill.TeacherSignal` over ``train_data``, e.g. a bridge record) adds the soft-target term.
    """
    return Trainer(predictor, train_data, valid_data, config, run_dir, progress, callback,
                   teacher=teacher).run(resume=resume)


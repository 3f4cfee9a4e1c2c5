"""One trainer for every gradient-trained torch model (:class:`~.torch_predictor.TorchPredictor`).

Objective. For a window ``w = data[o : o + L + 1]`` the module sees ``x = w[:-1]`` (``(B, L)`` long) and
returns logits ``z`` of shape ``(B, L, 256)``; the loss is the mean next-byte cross-entropy
``loss = -mean_{b,t} log softmax(z[b, t])[w[b, t + 1]]`` (nats; divide by ln 2 for bits per byte) plus the
module's optional auxiliary loss ``module.extra_loss()`` (e.g. an MoE balance or ACT ponder cost).

Optimisation. AdamW with decoupled weight decay ``p <- p - lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)``;
matrices are decayed, norms, biases and embeddings are not. The learning rate warms up linearly over
``warmup_steps`` and then follows a cosine from ``lr`` to ``min_lr`` over the run: the run's length is
``max_steps`` when given, else the wall-clock ``budget_seconds`` (progress = elapsed / budget).
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

Evaluation is in bits per byte on held-out bytes, over fixed windows (deterministic): the first
``eval_bytes`` bytes of the validation split, scored exactly as :meth:`CausalPredictor.score` scores them
(row 0 conditions on the start byte). Stateful modules carry their state across the evaluation chunks, so
the figure equals ``predictor.score(valid[:eval_bytes])``; stateless modules are scored chunk by chunk,
each chunk as a fresh sequence of ``eval_seq_len`` bytes.

Runs are resumable: a checkpoint (model file + optimizer state + RNG states + data position + carried
state + step) is written atomically into ``run_dir/checkpoints/``; resuming reproduces the uninterrupted
run's loss curve exactly for the same seed. Multi-process data parallel training works under ``torchrun``
(DDP; gloo on CPU, NCCL on GPU): every rank draws the same global batch and keeps its own shard of it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError, ModelFileError
from ..runtime.checkpoints import atomic_write_bytes
from ..runtime.reports import _fmt, _Report

LN2 = math.log(2.0)
TRAIN_MODES = ("detached", "carried")
CHECKPOINT_FORMAT = "decepticons-train-checkpoint"
#: train-config fields that must not change when a run is resumed (they define the data stream)
_RESUME_FIXED = ("batch_size", "seq_len", "mode", "seed", "slow_every", "slow_params", "valid_fraction")


# ============================================================================================== config
@dataclass
class TrainConfig:
    """Everything the trainer needs besides the model and the data."""

    batch_size: int = 16
    seq_len: int = 256
    lr: float = 3e-3
    #: final learning rate of the cosine (default ``lr / 10``)
    min_lr: float | None = None
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    #: global gradient-norm limit; ``None`` or 0 disables clipping
    grad_clip: float | None = 1.0
    #: stop after this many seconds of wall-clock training (``None``: no limit)
    budget_seconds: float | None = None
    #: stop after this many optimizer steps (``None``: no limit); also the cosine's length
    max_steps: int | None = None
    #: evaluate every this many steps (0: only at the end)
    eval_every: int = 200
    #: held-out bytes per evaluation (0 or ``None``: the whole validation split)
    eval_bytes: int | None = 65536
    #: evaluation chunk length (default: 4096 for stateful modules, else ``seq_len`` / the model context)
    eval_seq_len: int | None = None
    eval_batch_size: int = 16
    #: ``detached`` (each window from zero state) or ``carried`` (state carried, truncated backprop)
    mode: str = "detached"
    #: slow parameters take one step every ``slow_every`` steps (1: every parameter every step)
    slow_every: int = 1
    #: fnmatch patterns naming the slow parameters (default: the module's ``slow_parameters()`` hook)
    slow_params: tuple[str, ...] = ()
    seed: int = 0
    #: ``cpu``, ``cuda``, ``cuda:1``... (default: the predictor's device)
    device: str | None = None
    #: write a metrics line every this many steps
    log_every: int = 10
    #: checkpoint every this many steps (0: off) and/or every this many seconds (``None``: off)
    checkpoint_every: int = 0
    checkpoint_seconds: float | None = 300.0
    keep_checkpoints: int = 2
    #: held-out fraction cut from the end of the training data when no validation data is given
    valid_fraction: float = 0.05
    #: bf16 autocast on CUDA (ignored on CPU)
    amp: bool = True
    #: DDP's ``find_unused_parameters`` (needed when some parameters get no gradient in a step, e.g. routed
    #: experts or adaptive depth); also switched on by a module attribute ``ddp_find_unused_parameters = True``
    ddp_find_unused: bool = False
    #: write ``learning_curve.png`` into the run folder (needs matplotlib)
    plot: bool = True

    def __post_init__(self) -> None:
        self.slow_params = tuple(self.slow_params or ())
        checks = [
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.seq_len >= 1, f"seq_len must be >= 1, got {self.seq_len}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.min_lr is None or 0 <= self.min_lr <= self.lr, f"min_lr must be in [0, lr], got {self.min_lr}"),
            (self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.budget_seconds is None or self.budget_seconds > 0,
             f"budget_seconds must be > 0, got {self.budget_seconds}"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}"),
            (self.mode in TRAIN_MODES, f"mode must be one of {', '.join(TRAIN_MODES)}, got {self.mode!r}"),
            (self.slow_every >= 1, f"slow_every must be >= 1, got {self.slow_every}"),
            (self.eval_every >= 0, f"eval_every must be >= 0, got {self.eval_every}"),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
            (0 <= self.valid_fraction < 1, f"valid_fraction must be in [0, 1), got {self.valid_fraction}"),
            (self.eval_seq_len is None or self.eval_seq_len >= 1,
             f"eval_seq_len must be >= 1, got {self.eval_seq_len}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(msg)

    @property
    def final_lr(self) -> float:
        return self.lr / 10 if self.min_lr is None else self.min_lr

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, refusing unknown keys with the list of known ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["slow_params"] = list(self.slow_params)
        return d


# ============================================================================================== schedule
def lr_at(config: TrainConfig, step: int, elapsed: float = 0.0) -> float:
    """Learning rate for optimizer step ``step`` (0-based) after ``elapsed`` seconds of training.

    Linear warm-up ``lr * (step + 1) / warmup_steps`` for ``step < warmup_steps``, then
    ``min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2`` with run progress ``p`` in [0, 1]: the larger of
    ``(step - warmup) / (max_steps - warmup)`` and ``elapsed / budget_seconds`` (whichever are set; with
    neither set the rate stays at ``lr`` after warm-up).
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    p = 0.0
    if config.max_steps is not None:
        p = max(p, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    if config.budget_seconds is not None:
        p = max(p, elapsed / config.budget_seconds)
    p = min(1.0, max(0.0, p))
    lo = config.final_lr
    return lo + (config.lr - lo) * 0.5 * (1.0 + math.cos(math.pi * p))


def run_progress(config: TrainConfig, step: int, elapsed: float = 0.0) -> float:
    """Fraction of the run done, in [0, 1]: the larger of the step and wall-clock fractions that are set."""
    p = 0.0
    if config.max_steps is not None:
        p = max(p, step / max(1, config.max_steps))
    if config.budget_seconds is not None:
        p = max(p, elapsed / config.budget_seconds)
    return min(1.0, max(0.0, p))


# ============================================================================================== data
def split_train_valid(data: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(data[:cut], data[cut:])`` with the last ``fraction`` of the bytes held out (views, no copy)."""
    if not 0 < fraction < 1:
        raise InputError(f"valid fraction must be in (0, 1), got {fraction}")
    cut = int(round(len(data) * (1 - fraction)))
    return data[:cut], data[cut:]


class ByteDataset:
    """Training windows over a ``uint8`` array (a memory map of any size is read window by window).

    ``windows(offsets, L)`` returns ``(x, y)``, both ``(B, L)`` int64 with ``x[b] = data[o_b : o_b + L]`` and
    ``y[b] = data[o_b + 1 : o_b + L + 1]``.
    """

    def __init__(self, data: BytesLike, name: str = "training data") -> None:
        self.data = as_byte_array(data, name=name)
        self.name = name

    def __len__(self) -> int:
        return len(self.data)

    def windows(self, offsets: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(offsets, dtype=np.int64)[:, None] + np.arange(seq_len + 1, dtype=np.int64)[None]
        w = torch.from_numpy(np.asarray(self.data[idx], dtype=np.int64))
        return w[:, :-1], w[:, 1:]


class RandomWindows:
    """Detached mode: each step draws ``B`` uniform window offsets from a seeded generator.

    The generator's state is the data position: saving and restoring it replays the same batches.
    """

    def __init__(self, ds: ByteDataset, batch_size: int, seq_len: int, seed: int) -> None:
        if len(ds) < seq_len + 2:
            raise InputError(f"{ds.name} has {len(ds)} bytes; need more than seq_len + 1 = {seq_len + 1}")
        self.ds, self.B, self.L = ds, batch_size, seq_len
        self.gen = torch.Generator().manual_seed(seed)

    def next_offsets(self) -> tuple[np.ndarray, bool]:
        hi = len(self.ds) - self.L  # offsets 0 .. N - L - 1 inclusive
        return torch.randint(0, hi, (self.B,), generator=self.gen).numpy(), False

    def state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state(self, st: dict[str, Any]) -> None:
        self.gen.set_state(st["gen"])


class CarriedWindows:
    """Carried mode: ``B`` streams over contiguous segments of length ``S = N // B``; step ``k`` reads
    window ``k mod n`` of every stream (``n = (S - 1) // L``); ``reset`` is True when the streams restart."""

    def __init__(self, ds: ByteDataset, batch_size: int, seq_len: int) -> None:
        self.ds, self.B, self.L = ds, batch_size, seq_len
        self.seg = len(ds) // batch_size
        self.n_windows = (self.seg - 1) // seq_len
        if self.n_windows < 1:
            raise InputError(f"{ds.name} has {len(ds)} bytes: too short for {batch_size} carried streams "
                             f"of windows of {seq_len} bytes")
        self.k = 0

    def next_offsets(self) -> tuple[np.ndarray, bool]:
        w = self.k % self.n_windows
        self.k += 1
        return np.arange(self.B, dtype=np.int64) * self.seg + w * self.L, w == 0

    def state(self) -> dict[str, Any]:
        return {"k": self.k}

    def load_state(self, st: dict[str, Any]) -> None:
        self.k = int(st["k"])


# ============================================================================================== module helpers
def tree_map(fn: Callable[[torch.Tensor], Any], tree: Any) -> Any:
    """Apply ``fn`` to every tensor of a nested tuple/list/dict state."""
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, t) for t in tree)
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    return tree


def _flatten(tree: Any, prefix: str, out: dict[str, torch.Tensor]) -> Any:
    """Tensors of ``tree`` into ``out`` under ``prefix``-based names; returns a JSON spec to rebuild it."""
    if isinstance(tree, torch.Tensor):
        out[prefix] = tree.detach().cpu().contiguous()
        return {"t": prefix}
    if isinstance(tree, (tuple, list)):
        return {"seq": [_flatten(t, f"{prefix}.{i}", out) for i, t in enumerate(tree)],
                "tuple": isinstance(tree, tuple)}
    if isinstance(tree, dict):
        return {"map": {k: _flatten(v, f"{prefix}.{k}", out) for k, v in tree.items()}}
    if tree is None or isinstance(tree, (int, float, bool, str)):
        return {"v": tree}
    raise TypeError(f"cannot checkpoint a carried state of type {type(tree).__name__}")


def _unflatten(spec: Any, tensors: dict[str, torch.Tensor], device: torch.device) -> Any:
    if "t" in spec:
        return tensors[spec["t"]].to(device)
    if "seq" in spec:
        items = [_unflatten(s, tensors, device) for s in spec["seq"]]
        return tuple(items) if spec["tuple"] else items
    if "map" in spec:
        return {k: _unflatten(v, tensors, device) for k, v in spec["map"].items()}
    return spec["v"]


class _Stepper(nn.Module):
    """The unit DDP wraps: one forward returning ``(logits, new_state, extra_loss)``.

    Routing ``forward_with_state`` and ``extra_loss`` through this module's ``forward`` keeps DDP's
    gradient hooks in charge of every parameter in every train mode.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, state: Any = None, carried: bool = False):
        if carried:
            logits, new_state = self.inner.forward_with_state(x, state)
        else:
            logits, new_state = self.inner(x), None
        extra = self.inner.extra_loss() if hasattr(self.inner, "extra_loss") else None
        return logits, new_state, extra


def parameter_groups(module: nn.Module, weight_decay: float, exclude: set[str] = frozenset()
                     ) -> list[dict[str, Any]]:
    """AdamW groups: decay for matrices, none for norms, biases (``ndim < 2``) and embedding tables.

    A module may list more names to spare through ``no_weight_decay() -> iterable of parameter names``.
    """
    no_decay: set[str] = set()
    for mname, m in module.named_modules():
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
            no_decay.add(f"{mname}.weight" if mname else "weight")
    if hasattr(module, "no_weight_decay"):
        no_decay |= set(module.no_weight_decay())
    decay, plain = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad or name in exclude:
            continue
        (plain if p.ndim < 2 or name in no_decay else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0})
    return groups


def slow_parameter_names(module: nn.Module, config: TrainConfig) -> list[str]:
    """Names of the parameters updated only every ``slow_every`` steps."""
    if config.slow_every <= 1:
        return []
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    if config.slow_params:
        chosen = [n for n in names if any(fnmatch.fnmatchcase(n, pat) for pat in config.slow_params)]
        if not chosen:
            raise InputError(f"slow_params {list(config.slow_params)} match no parameter; parameters are: "
                             f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
        return chosen
    if hasattr(module, "slow_parameters"):
        chosen = [n for n in module.slow_parameters() if n in names]
        if chosen:
            return chosen
    raise InputError("slow_every > 1 needs slow_params (fnmatch patterns of parameter names) or a module with "
                     "a slow_parameters() hook")


def clip_gradients(params: list[torch.Tensor], max_norm: float | None) -> float:
    """Scale gradients so their global L2 norm is at most ``max_norm``; returns the norm before clipping."""
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if max_norm:
        return float(torch.nn.utils.clip_grad_norm_(grads, max_norm))
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in grads])))


# ============================================================================================== evaluation
def _is_stateful(module: nn.Module) -> bool:
    return hasattr(module, "forward_with_state") and hasattr(module, "init_state")


@torch.no_grad()
def evaluate(predictor: Any, data: BytesLike, seq_len: int | None = None, batch_size: int = 16,
             stateful: bool | None = None, amp: bool = False) -> float:
    """Bits per byte of ``predictor`` on ``data``, scored as :meth:`CausalPredictor.score` scores it.

    Position 0 conditions on the start byte only. A stateful module (``forward_with_state`` and
    ``init_state``) runs over chunks of ``seq_len`` bytes carrying its state, which equals one pass over
    all of ``data``; a stateless one scores each chunk as a fresh sequence (chunks batched by
    ``batch_size``).
    """
    x = as_byte_array(data)
    if len(x) == 0:
        raise InputError("cannot evaluate on empty data")
    module = predictor.module
    device = next(iter(module.parameters())).device
    stateful = _is_stateful(module) if stateful is None else stateful
    if seq_len is None:
        ctx = getattr(predictor, "context_length", None)
        seq_len = 4096 if stateful else (ctx or 1024)
    bos = int(getattr(predictor, "bos_token", 0))
    inputs = np.empty(len(x), dtype=np.int64)
    inputs[0] = bos
    inputs[1:] = x[:-1]
    inp = torch.from_numpy(inputs)
    tgt = torch.from_numpy(np.asarray(x, dtype=np.int64))
    was_training = module.training
    module.eval()
    total = 0.0
    autocast = amp and device.type == "cuda"
    try:
        if stateful:
            state = module.init_state(1)
            for s in range(0, len(x), seq_len):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits, state = module.forward_with_state(inp[None, s:s + seq_len].to(device), state)
                lp = torch.log_softmax(logits[0].double(), dim=-1)
                total -= float(lp.gather(-1, tgt[s:s + seq_len, None].to(device)).sum())
        else:
            starts = list(range(0, len(x), seq_len))
            for i in range(0, len(starts), batch_size):
                group = starts[i:i + batch_size]
                full = [s for s in group if s + seq_len <= len(x)]
                parts = []
                if full:
                    idx = torch.tensor(full)[:, None] + torch.arange(seq_len)[None]
                    xi = tgt[idx]
                    xi = torch.cat([torch.full((len(full), 1), bos, dtype=torch.int64), xi[:, :-1]], 1)
                    parts.append((xi, tgt[idx]))
                for s in group:
                    if s + seq_len > len(x):  # the last, shorter chunk
                        yi = tgt[s:][None]
                        xi = torch.cat([torch.full((1, 1), bos, dtype=torch.int64), yi[:, :-1]], 1)
                        parts.append((xi, yi))
                for xi, yi in parts:
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                        logits = module(xi.to(device))
                    lp = torch.log_softmax(logits.double(), dim=-1)
                    total -= float(lp.gather(-1, yi[..., None].to(device)).sum())
    finally:
        module.train(was_training)
    return total / LN2 / len(x)


# ============================================================================================== results
@dataclass
class TrainResult(_Report):
    """What a training run did: steps, tokens, time, the last loss and the held-out bits per byte."""

    model: str
    steps: int
    tokens: int
    seconds: float
    train_seconds: float
    parameters: int
    stop_reason: str
    final_loss: float | None = None
    train_bits_per_byte: float | None = None
    valid_bits_per_byte: float | None = None
    valid_bytes: int = 0
    world_size: int = 1
    mode: str = "detached"
    run_dir: str | None = None
    curve: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["tokens_per_second"] = self.tokens_per_second
        d["curve"] = self.curve
        return d

    def __str__(self) -> str:
        lines = [
            f"model              {self.model} ({self.parameters:,} parameters)",
            f"steps              {self.steps:,} ({self.stop_reason}; mode {self.mode}, "
            f"{self.world_size} process{'es' if self.world_size != 1 else ''})",
            f"tokens             {self.tokens:,} ({self.tokens_per_second / 1e3:,.1f} k tokens/s)",
            f"time               {self.seconds:.1f} s",
            f"last train loss    {_fmt(None if self.final_loss is None else self.final_loss / LN2)} bits/byte",
        ]
        if self.train_bits_per_byte is not None:
            lines.append(f"train bits/byte    {_fmt(self.train_bits_per_byte)}")
        if self.valid_bits_per_byte is not None:
            lines.append(f"held-out bits/byte {_fmt(self.valid_bits_per_byte)} ({self.valid_bytes:,} bytes)")
        if self.run_dir:
            lines.append(f"run folder         {self.run_dir}")
        return "\n".join(lines)


# ============================================================================================== distributed
def init_distributed(device: str | None = None) -> tuple[int, int]:
    """``(rank, world_size)``; under ``torchrun`` (``WORLD_SIZE > 1``) initialise the process group first
    (NCCL when training on CUDA, gloo otherwise)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if not dist.is_available():
            raise InputError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        use_cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
        dist.init_process_group("nccl" if use_cuda else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _dist():
    import torch.distributed as dist

    return dist


# ============================================================================================== checkpoints
def _tensor_to_np(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().copy()
    return t.numpy().copy()


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    if not tensors:
        tensors = {"_empty": torch.zeros(0, dtype=torch.uint8)}
    atomic_write_bytes(path, save(tensors, metadata={"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta)}))


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    if not path.exists():
        raise ModelFileError(f"checkpoint file missing: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types
        raise ModelFileError(f"checkpoint file {path} is truncated or corrupted: {e}") from None
    if md.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path} is not a decepticons training checkpoint")
    tensors.pop("_empty", None)
    return tensors, json.loads(md["meta"])


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The folder of the newest complete checkpoint in ``run_dir``, or ``None``."""
    ck = Path(run_dir) / "checkpoints"
    latest = ck / "latest"
    if not latest.exists():
        return None
    path = ck / latest.read_text().strip()
    return path if path.is_dir() else None


def _config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [f"{k}: checkpoint {a.get(k, '<unset>')!r} vs this run {b.get(k, '<unset>')!r}"
            for k in keys if a.get(k) != b.get(k)]


# ============================================================================================== trainer
class Trainer:
    """State of one training run; :func:`train` is the usual entry point."""

    def __init__(self, predictor: Any, train_data: BytesLike, valid_data: BytesLike | None = None,
                 config: TrainConfig | None = None, run_dir: str | os.PathLike | None = None,
                 progress: bool | None = None, callback: Callable[[int, dict[str, Any]], None] | None = None):
        self.predictor = predictor
        self.cfg = config or TrainConfig()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.callback = callback
        self.rank, self.world = init_distributed(self.cfg.device)
        cfg = self.cfg
        if cfg.batch_size % self.world:
            raise InputError(f"batch_size {cfg.batch_size} is not divisible by the {self.world} processes")
        self.local_batch = cfg.batch_size // self.world

        dev = cfg.device or str(getattr(predictor, "device", "cpu"))
        if self.world > 1 and dev.startswith("cuda"):
            dev = f"cuda:{int(os.environ.get('LOCAL_RANK', self.rank))}"
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {dev!r} requested but CUDA is not available")
        self.device = torch.device(dev)
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)
        predictor.module.to(self.device)
        predictor.device = self.device
        self.module: nn.Module = predictor.module

        train_arr = as_byte_array(train_data, name="training data")
        if valid_data is None:
            if cfg.valid_fraction > 0:
                train_arr, valid_arr = split_train_valid(train_arr, cfg.valid_fraction)
            else:
                valid_arr = None
        else:
            valid_arr = as_byte_array(valid_data, name="validation data")
            if len(valid_arr) == 0:
                raise InputError("validation data is empty")
        self.train_ds = ByteDataset(train_arr, "training data")
        self.valid = valid_arr
        carried = cfg.mode == "carried"
        if carried and not _is_stateful(self.module):
            raise InputError(f"train mode 'carried' needs a module with forward_with_state and init_state; "
                             f"{type(self.module).__name__} has none")
        self.carried = carried
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
        self.slow_ids = {id(p) for p in self.slow_params}

        self.step = 0
        self.elapsed = 0.0  # wall-clock seconds of the run so far (all sessions)
        self.train_seconds = 0.0  # seconds spent in optimizer steps (throughput)
        self.state: Any = None
        self.curve: list[dict[str, Any]] = []
        self.last_loss: float | None = None

        stepper = _Stepper(self.module)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            unused = cfg.ddp_find_unused or bool(getattr(self.module, "ddp_find_unused_parameters", False))
            self.net: nn.Module = DDP(stepper, device_ids=[self.device.index] if self.device.type == "cuda"
                                      else None, find_unused_parameters=unused)
        else:
            self.net = stepper

    # ---------------------------------------------------------------------------------- helpers
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _shard(self, t: torch.Tensor) -> torch.Tensor:
        return t[self.rank * self.local_batch:(self.rank + 1) * self.local_batch]

    def _metrics_path(self) -> Path | None:
        return self.run_dir / "metrics.jsonl" if self.run_dir is not None else None

    def _log(self, record: dict[str, Any]) -> None:
        self.curve.append(record)
        path = self._metrics_path()
        if path is not None and self.is_main:
            with open(path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def evaluate(self, data: np.ndarray | None = None) -> float | None:
        data = self.valid if data is None else data
        if data is None:
            return None
        n = self.cfg.eval_bytes
        if n:
            data = data[:n]
        return evaluate(self.predictor, data, seq_len=self.cfg.eval_seq_len,
                        batch_size=self.cfg.eval_batch_size, amp=self.cfg.amp)

    # ---------------------------------------------------------------------------------- one step
    def train_step(self) -> dict[str, Any]:
        cfg = self.cfg
        offsets, reset = self.sampler.next_offsets()
        x, y = self.train_ds.windows(offsets, cfg.seq_len)
        x, y = self._shard(x).to(self.device), self._shard(y).to(self.device)
        if self.carried and (reset or self.state is None):
            self.state = self.module.init_state(self.local_batch)
            self.state = tree_map(lambda t: t.to(self.device), self.state)
        lr = lr_at(cfg, self.step, self.elapsed)
        for g in self.opt.param_groups:
            g["lr"] = lr
        hook = getattr(self.module, "set_training_progress", None)
        if callable(hook):  # curricula (e.g. plato_mythos's depth budget) follow the same run progress
            hook(run_progress(cfg, self.step, self.elapsed))
        autocast = cfg.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits, new_state, extra = self.net(x, self.state, self.carried)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            total = loss if extra is None else loss + extra
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
        self.opt.step()
        if callable(after := getattr(self.module, "after_optimizer_step", None)):  # per-step model state
            after()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1
        lv = float(loss.detach())
        if self.world > 1:  # the global batch's mean loss, for logging
            t = torch.tensor([lv], device=self.device, dtype=torch.float64)
            _dist().all_reduce(t)
            lv = float(t) / self.world
        self.last_loss = lv
        return {"loss": lv, "lr": lr, "grad_norm": gnorm,
                "extra_loss": None if extra is None else float(extra.detach())}

    # ---------------------------------------------------------------------------------- checkpoints
    def _rank_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {"rng.cpu": torch.random.get_rng_state()}
        meta: dict[str, Any] = {"rank": self.rank}
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        if self.carried and self.state is not None:
            meta["state_spec"] = _flatten(self.state, "state", tensors)
        return tensors, meta

    def save_checkpoint(self) -> Path | None:
        """Write a complete checkpoint into ``run_dir/checkpoints/step-N`` atomically (temp folder, rename,
        then the ``latest`` pointer); keep the newest ``keep_checkpoints``."""
        if self.run_dir is None:
            return None
        ck = self.run_dir / "checkpoints"
        name = f"step-{self.step:08d}"
        tmp = ck / f".tmp-{name}"
        if self.is_main:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
        if self.world > 1:
            _dist().barrier()
        rt, rmeta = self._rank_tensors()
        _write_safetensors(tmp / f"rank{self.rank}.safetensors", rt, rmeta)
        if self.is_main:
            self.predictor.save(tmp / "model.safetensors")
            tensors: dict[str, torch.Tensor] = {}
            sd = self.opt.state_dict()
            opt_state_meta: dict[str, dict[str, Any]] = {}
            for idx, st in sd["state"].items():
                opt_state_meta[str(idx)] = {}
                for k, v in st.items():
                    if isinstance(v, torch.Tensor):
                        tensors[f"opt.{idx}.{k}"] = v
                    else:
                        opt_state_meta[str(idx)][k] = v
            for i, acc in enumerate(self.slow_acc):
                tensors[f"slow_acc.{i}"] = acc
            data_state = self.sampler.state()
            if "gen" in data_state:
                tensors["data.gen"] = data_state.pop("gen")
            meta = {
                "step": self.step, "elapsed": self.elapsed, "train_seconds": self.train_seconds,
                "model_kind": self.predictor.name, "model_config": self.predictor.config_dict(),
                "train_config": self.cfg.to_dict(), "world_size": self.world, "data": data_state,
                "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]],
                "group_sizes": [len(g["params"]) for g in sd["param_groups"]],
                "opt_state": opt_state_meta, "slow_names": self.slow_names, "last_loss": self.last_loss,
            }
            _write_safetensors(tmp / "trainer.safetensors", tensors, meta)
        if self.world > 1:
            _dist().barrier()
        if self.is_main:
            final = ck / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            atomic_write_bytes(ck / "latest", name.encode())
            done = sorted(p for p in ck.glob("step-*") if p.is_dir())
            for old in done[:-max(1, self.cfg.keep_checkpoints)]:
                shutil.rmtree(old, ignore_errors=True)
        if self.world > 1:
            _dist().barrier()
        return ck / name

    def load_checkpoint(self, path: Path) -> None:
        """Restore everything :meth:`save_checkpoint` wrote; refuse checkpoints of another model or setup."""
        from ..runtime.checkpoints import read_model_file

        tensors, meta = _read_safetensors(path / "trainer.safetensors")
        kind, conf = self.predictor.name, self.predictor.config_dict()
        if meta["model_kind"] != kind or meta["model_config"] != conf:
            diff = _config_diff(meta["model_config"], conf) if meta["model_kind"] == kind else \
                [f"model kind: checkpoint {meta['model_kind']!r} vs this run {kind!r}"]
            raise ModelFileError(f"checkpoint {path} was written for a different model configuration; "
                                 f"refusing to resume ({'; '.join(diff[:6])})")
        mine = self.cfg.to_dict()
        diff = [d for d in _config_diff({k: meta["train_config"].get(k) for k in _RESUME_FIXED},
                                        {k: mine[k] for k in _RESUME_FIXED})]
        if diff:
            raise ModelFileError(f"checkpoint {path} was written with other training settings; refusing to "
                                 f"resume ({'; '.join(diff)})")
        if meta["world_size"] != self.world:
            raise ModelFileError(f"checkpoint {path} was written by {meta['world_size']} processes; resume it "
                                 f"with the same number (this run has {self.world})")
        if meta["slow_names"] != self.slow_names:
            raise ModelFileError(f"checkpoint {path} has other slow parameters than this run")
        mf = read_model_file(path / "model.safetensors", expected_kind=kind)
        own = self.module.state_dict()
        if set(mf.tensors) != set(own) or any(tuple(own[k].shape) != mf.tensors[k].shape for k in own):
            raise ModelFileError(f"checkpoint {path} holds weights that do not fit this model")
        self.module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)).to(own[k].dtype)
                                     for k, v in mf.tensors.items()})
        # optimizer
        params_per_group = meta["group_sizes"]
        if params_per_group != [len(g["params"]) for g in self.opt.param_groups]:
            raise ModelFileError(f"checkpoint {path}: optimizer groups do not match this model")
        state: dict[int, dict[str, Any]] = {}
        for idx, extra in meta["opt_state"].items():
            state[int(idx)] = dict(extra)
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, key = k.split(".", 2)
                state.setdefault(int(idx), {})[key] = v
        groups, start = [], 0
        for g, n in zip(meta["param_groups"], params_per_group):
            g = dict(g)
            if "betas" in g:
                g["betas"] = tuple(g["betas"])
            g["params"] = list(range(start, start + n))
            start += n
            groups.append(g)
        self.opt.load_state_dict({"state": state, "param_groups": groups})
        for i, acc in enumerate(self.slow_acc):
            acc.copy_(tensors[f"slow_acc.{i}"])
        data_state = dict(meta["data"])
        if "data.gen" in tensors:
            data_state["gen"] = tensors["data.gen"]
        self.sampler.load_state(data_state)
        self.step = int(meta["step"])
        self.elapsed = float(meta["elapsed"])
        self.train_seconds = float(meta["train_seconds"])
        self.last_loss = meta.get("last_loss")
        rt, rmeta = _read_safetensors(path / f"rank{self.rank}.safetensors")
        torch.random.set_rng_state(rt["rng.cpu"])
        if "rng.cuda" in rt and self.device.type == "cuda":
            torch.cuda.set_rng_state(rt["rng.cuda"], self.device)
        self.state = _unflatten(rmeta["state_spec"], rt, self.device) if "state_spec" in rmeta else None
        # metrics: keep what the interrupted run logged up to the checkpoint
        self.curve = []
        mp = self._metrics_path()
        if mp is not None and mp.exists():
            kept = []
            for line in mp.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut by the interruption
                if rec.get("step", 0) <= self.step:
                    kept.append(rec)
            self.curve = kept
            if self.is_main:
                atomic_write_bytes(mp, "".join(json.dumps(r) + "\n" for r in kept).encode())

    # ---------------------------------------------------------------------------------- the loop
    def _should_stop(self) -> str | None:
        cfg = self.cfg
        reason = None
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            reason = "steps"
        elif cfg.budget_seconds is not None and self.elapsed >= cfg.budget_seconds:
            reason = "budget"
        if self.world > 1:  # every rank stops at the same step (rank 0's clock decides)
            t = torch.tensor([0 if reason is None else (1 if reason == "steps" else 2)], device=self.device)
            _dist().broadcast(t, 0)
            reason = {0: None, 1: "steps", 2: "budget"}[int(t)]
        return reason

    def run(self, resume: bool = False) -> TrainResult:
        cfg = self.cfg
        if cfg.max_steps is None and cfg.budget_seconds is None:
            raise InputError("give a step budget (max_steps / --steps) or a time budget (budget_seconds / "
                             "--budget)")
        torch.manual_seed(cfg.seed + self.rank)
        if self.run_dir is not None and self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            if self.run_dir is None:
                raise InputError("resume needs a run folder (--run-dir)")
            ck = latest_checkpoint(self.run_dir)
            if ck is None:
                raise ModelFileError(f"no checkpoint to resume in {self.run_dir}")
            self.load_checkpoint(ck)
        elif self.run_dir is not None and self.is_main:
            mp = self._metrics_path()
            if mp is not None and mp.exists():
                mp.unlink()
            if latest_checkpoint(self.run_dir) is not None:
                shutil.rmtree(self.run_dir / "checkpoints")
        if self.run_dir is not None and self.is_main:
            (self.run_dir / "train_config.json").write_text(json.dumps(
                {"model": self.predictor.name, "model_config": self.predictor.config_dict(),
                 "train_config": cfg.to_dict(), "world_size": self.world}, indent=2, sort_keys=True))

        from ..runtime.progress import progress_enabled

        bar = None
        if self.is_main and progress_enabled(self.progress):
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.max_steps, initial=self.step, desc=f"train {self.predictor.name}",
                       unit="step", leave=False, dynamic_ncols=True)
        self.module.train()
        tokens_per_step = cfg.batch_size * cfg.seq_len
        last_ckpt = time.perf_counter()
        stop = None
        try:
            while True:
                stop = self._should_stop()
                if stop:
                    break
                t0 = time.perf_counter()
                rec = self.train_step()
                dt = time.perf_counter() - t0
                self.train_seconds += dt
                self.elapsed += dt
                t1 = time.perf_counter()
                if self.step % cfg.log_every == 0 or self.step == 1:
                    self._log({"step": self.step, **rec, "tokens": self.step * tokens_per_step,
                               "elapsed": round(self.elapsed, 4),
                               "tokens_per_s": round(tokens_per_step / dt, 1) if dt > 0 else None})
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.valid is not None:
                    if self.is_main:
                        v = self.evaluate()
                        self._log({"step": self.step, "valid_bpb": v, "elapsed": round(self.elapsed, 4)})
                    self.module.train()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{rec['loss'] / LN2:.3f}b", lr=f"{rec['lr']:.2e}")
                if self.callback is not None:
                    self.callback(self.step, rec)
                self.elapsed += time.perf_counter() - t1
                due = (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or (
                    cfg.checkpoint_seconds is not None and time.perf_counter() - last_ckpt >= cfg.checkpoint_seconds)
                if self.world > 1:  # the clock-based decision is rank 0's
                    t = torch.tensor([int(bool(due))], device=self.device)
                    _dist().broadcast(t, 0)
                    due = bool(int(t))
                if due and self.run_dir is not None:
                    t2 = time.perf_counter()
                    self.save_checkpoint()
                    last_ckpt = time.perf_counter()
                    self.elapsed += last_ckpt - t2
        finally:
            if bar is not None:
                bar.close()
        valid_bpb = train_bpb = None
        if self.is_main:
            valid_bpb = self.evaluate()
            train_bpb = self.evaluate(np.asarray(self.train_ds.data[:cfg.eval_bytes or 65536]))
            if valid_bpb is not None and not (self.curve and self.curve[-1].get("valid_bpb") is not None
                                              and self.curve[-1]["step"] == self.step):
                self._log({"step": self.step, "valid_bpb": valid_bpb, "elapsed": round(self.elapsed, 4)})
        if self.run_dir is not None:
            self.save_checkpoint()
            if self.is_main and cfg.plot:
                plot_learning_curves({self.predictor.name: self.curve}, self.run_dir / "learning_curve.png")
        self.module.eval()
        vb = len(self.valid) if self.valid is not None else 0
        return TrainResult(
            model=self.predictor.name, steps=self.step, tokens=self.step * tokens_per_step, seconds=self.elapsed,
            train_seconds=self.train_seconds, parameters=sum(p.numel() for p in self.module.parameters()),
            stop_reason=stop or "?", final_loss=self.last_loss, train_bits_per_byte=train_bpb,
            valid_bits_per_byte=valid_bpb, valid_bytes=min(vb, cfg.eval_bytes or vb), world_size=self.world,
            mode=cfg.mode, run_dir=str(self.run_dir) if self.run_dir is not None else None, curve=self.curve)


def train(predictor: Any, train_data: BytesLike, valid_data: BytesLike | None = None,
          config: TrainConfig | None = None, run_dir: str | os.PathLike | None = None, resume: bool = False,
          progress: bool | None = None, callback: Callable[[int, dict[str, Any]], None] | None = None
          ) -> TrainResult:
    """Train ``predictor`` (a :class:`TorchPredictor`) in place; see the module docstring.

    ``valid_data=None`` holds out the last ``config.valid_fraction`` of ``train_data``. With ``run_dir``
    the run writes ``metrics.jsonl``, ``learning_curve.png`` and checkpoints there; ``resume=True``
    continues from its latest checkpoint. ``callback(step, record)`` is called after every step.
    """
    return Trainer(predictor, train_data, valid_data, config, run_dir, progress, callback).run(resume=resume)


# ============================================================================================== plots
def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file (lines cut by an interruption are skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def plot_learning_curves(runs: dict[str, list[dict[str, Any]]], path: str | os.PathLike,
                         x: str = "elapsed", title: str | None = None) -> Path | None:
    """Train loss (bits/byte, thin) and held-out bits/byte (markers) of each run against ``x``
    (``elapsed`` seconds or ``step``) into a PNG. Returns ``None`` when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, recs) in enumerate(runs.items()):
        c = colors[i % len(colors)]
        tr = [(r[x], r["loss"] / LN2) for r in recs if "loss" in r and r.get(x) is not None]
        va = [(r[x], r["valid_bpb"]) for r in recs if r.get("valid_bpb") is not None and r.get(x) is not None]
        if tr:
            ax.plot(*zip(*tr), color=c, alpha=0.45, lw=0.9, label=f"{label} train")
        if va:
            ax.plot(*zip(*va), color=c, marker="o", ms=3, lw=1.6, label=f"{label} held-out")
    ys = [r["valid_bpb"] for recs in runs.values() for r in recs if r.get("valid_bpb") is not None]
    ys += [r["loss"] / LN2 for recs in runs.values() for r in recs if "loss" in r]
    if ys:  # the first steps sit near 8 bits/byte; keep the interesting range readable
        lo = min(ys)
        ax.set_ylim(max(0.0, lo - 0.2), min(max(ys), lo + 2.5) + 0.05)
    ax.set_xlabel("seconds" if x == "elapsed" else x)
    ax.set_ylabel("bits per byte")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


__all__ = ["TrainConfig", "TrainResult", "Trainer", "train", "evaluate", "lr_at", "ByteDataset",
           "split_train_valid", "parameter_groups", "clip_gradients", "init_distributed", "latest_checkpoint",
           "read_metrics", "plot_learning_curves", "TRAIN_MODES"]

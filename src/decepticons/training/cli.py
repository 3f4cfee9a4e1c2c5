"""``decepticons train``: gradient-train any registered torch model with the shared trainer.

Examples::

    decepticons train --model causal-bank --mode gated_retention --input train.txt --valid valid.txt \\
        --budget 10m --save bank.safetensors
    decepticons train --model causal-bank --input train.txt --steps 2000 --run-dir runs/a
    decepticons train --model causal-bank --input train.txt --valid valid.txt --tokens 28M
    decepticons train --model causal-bank --input train.txt --steps 4000 --run-dir runs/a --resume
    decepticons train --model causal-bank --input train.txt --steps 2000 --teacher mixer.bridge.safetensors \
        --teacher-weight 0.5
    torchrun --nproc-per-node 2 -m decepticons.cli train --model causal-bank --input train.txt --budget 5m
    decepticons train --backend mlx --model causal-bank --input train.txt --steps 2000 --save bank.safetensors

``--config KEY=VALUE`` sets a model configuration field; ``--config train.KEY=VALUE`` sets a trainer option
(any :class:`~decepticons.training.TrainConfig` field, e.g. ``train.mode=carried``,
``train.warmup_steps=200``, ``train.slow_every=4``). ``--teacher F`` trains on a teacher's soft targets beside
the bytes: ``F`` is a bridge file exported over the ``--input`` corpus (``decepticons export``); its weight is
``--teacher-weight`` (default 0.5; the temperature is ``--config train.teacher_temperature=T``).
``--tensorboard DIR`` also writes the run's scalars for TensorBoard (:mod:`.tensorboard`; needs the
``tensorboard`` package).

``--backend mlx`` trains the causal bank on MLX with the same recipe (:mod:`.mlx_step`): same windows from the
same seed, schedule, AdamW settings, clipping, budgets, metrics and files (a model trained on one backend
loads, scores and resumes on the other).

``--steps N`` and ``--tokens N`` (training bytes; ``N / (batch x seq-len)`` steps, rounded up) are budgets
the machine's load does not change: the learning-rate schedule, the warm-up and the evaluation points follow
the step count only, so the same seed gives the same curve and the same weights on a busy or an idle host
(a ``--budget`` given as well only stops the run early). The report gives both tokens and seconds.

``--budget`` is the wall clock of the whole run, final held-out evaluation included: the trainer measures
what evaluation costs and stops training early enough to score the held-out bytes in time, scoring fewer of
them when the whole would take more than ``train.budget_eval_share`` of the budget (:mod:`.budget`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from typing import TYPE_CHECKING, Any

from ..cli_common import check_save_path, emit, parse_overrides, read_input
from ..errors import InputError
from .distill import TeacherSignal

if TYPE_CHECKING:
    from .config import TrainConfig

#: budget used when neither --budget nor --steps is given
DEFAULT_BUDGET = "5m"
_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}


def parse_budget(text: str) -> float:
    """``'90s'``, ``'10m'``, ``'1h'``, ``'1h30m'``, ``'2.5m'`` or plain seconds (``'600'``) -> seconds."""
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        raise InputError("--budget is empty; use e.g. 90s, 10m or 1h")
    try:
        value = float(s)
    except ValueError:
        parts = re.findall(r"(\d+(?:\.\d+)?)(sec|min|hr|s|m|h)", s)
        if not parts or "".join(n + u for n, u in parts) != s:
            raise InputError(f"cannot read budget {text!r}; use e.g. 90s, 10m, 1h or 1h30m") from None
        value = sum(float(n) * _UNITS[u] for n, u in parts)
    if value <= 0:
        raise InputError(f"budget must be positive, got {text!r}")
    return value


_TOKEN_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}


def parse_tokens(text: str) -> int:
    """``'500k'``, ``'28M'``, ``'1.5e7'``, ``'2000000'`` -> a positive whole number of training bytes."""
    s = str(text).strip().lower().replace("_", "").replace(",", "")
    m = re.fullmatch(r"(\d+(?:\.\d*)?(?:e\d+)?)([kmg]?)", s)
    if m is None:
        raise InputError(f"cannot read token budget {text!r}; use e.g. 500k, 28M or 1.5e7")
    value = float(m.group(1)) * _TOKEN_UNITS[m.group(2)]
    if not (1 <= value < 2**62):
        raise InputError(f"token budget must be at least 1 token, got {text!r}")
    return math.ceil(value)


def _split_overrides(items: list[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    model_kw: dict[str, Any] = {}
    train_kw: dict[str, Any] = {}
    for key, value in parse_overrides(items).items():
        if key.startswith("train."):
            train_kw[key[len("train."):]] = value
        else:
            model_kw[key] = value
    return model_kw, train_kw


def _build_model(args: argparse.Namespace, model_kw: dict[str, Any]) -> Any:
    from ..registry import load_model, model_class
    from .predictor import TorchPredictor

    if args.load:
        if model_kw or args.mode:
            raise InputError("--config and --mode describe a new model; they cannot change one given by --load")
        model = load_model(args.load)
        if not isinstance(model, TorchPredictor):
            raise InputError(f"{args.load} holds a {model.name!r} model, which is not gradient-trained; "
                             f"use `decepticons fit` for it")
        return model
    cls = model_class(args.model)
    if not (isinstance(cls, type) and issubclass(cls, TorchPredictor)):
        raise InputError(f"model {args.model!r} is not gradient-trained; use `decepticons fit --model "
                         f"{args.model}`")
    fields = {f.name for f in dataclasses.fields(cls.config_cls)} if dataclasses.is_dataclass(cls.config_cls) \
        else set()
    if args.mode:
        if "substrate_mode" not in fields:
            raise InputError(f"--mode sets a causal-bank substrate mode; model {args.model!r} has none")
        model_kw["substrate_mode"] = args.mode
    unknown = sorted(set(model_kw) - fields) if fields else []
    if unknown:
        raise InputError(f"unknown {args.model} configuration key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(fields))} (trainer options go as --config train.KEY=VALUE)")
    try:
        return cls(**model_kw, seed=args.seed, device="cpu")
    except TypeError as e:
        raise InputError(f"bad {args.model} configuration: {e}") from None


def train_config_from_args(args: argparse.Namespace, model: Any, train_kw: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` for a ``train`` command line (model defaults < flags < ``train.*``)."""
    import torch

    from .config import TrainConfig
    from .distributed import parse_device

    kw: dict[str, Any] = dict(model.train_defaults)
    kw["seed"] = args.seed
    budget, steps, tokens = args.budget, args.steps, getattr(args, "tokens", None)
    if budget is None and steps is None and tokens is None and not {"budget_seconds", "max_steps",
                                                                    "max_tokens"} & set(train_kw):
        budget = DEFAULT_BUDGET
        if not (args.quiet or args.json):
            print(f"no --budget, --steps or --tokens given: training for {DEFAULT_BUDGET}", file=sys.stderr)
    if budget is not None:
        kw["budget_seconds"] = parse_budget(budget)
    if steps is not None:
        if steps < 1:
            raise InputError(f"--steps must be >= 1, got {steps}")
        kw["max_steps"] = steps
    if tokens is not None:
        kw["max_tokens"] = parse_tokens(tokens)
    for key, value in (("batch_size", args.batch_size), ("seq_len", args.seq_len), ("lr", args.lr),
                       ("teacher_weight", args.teacher_weight)):
        if value is not None:
            kw[key] = value
    kw["device"] = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    parse_device(kw["device"])  # an unknown or absent device is refused before any work
    kw.update(train_kw)
    return TrainConfig.from_dict(kw)


def run_train(args: argparse.Namespace, teacher: TeacherSignal | None = None) -> int:
    """Entry point of ``decepticons train`` (see :func:`decepticons.cli.build_parser` for the flags);
    ``teacher`` is the signal read from ``--teacher``."""
    from .distributed import init_distributed
    from .loop import Trainer

    model_kw, train_kw = _split_overrides(args.config)
    if args.resume and not args.run_dir:
        raise InputError("--resume needs --run-dir (the folder holding the run's checkpoints)")
    if teacher is None and (args.teacher_weight is not None or any(k.startswith("teacher_") for k in train_kw)):
        raise InputError("--teacher-weight and train.teacher_* set the teacher's share of the loss; give --teacher")
    tensorboard_dir = getattr(args, "tensorboard", None)
    if tensorboard_dir:
        from .tensorboard import INSTALL_HINT, tensorboard_available

        if not tensorboard_available():  # before any work
            raise InputError(INSTALL_HINT)
    backend = getattr(args, "backend", "torch")
    if backend == "mlx":  # before any work: MLX installed, no teacher, no torch device
        from ..backends import check_backend

        check_backend("mlx")
        if teacher is not None:
            raise InputError("--teacher trains on the torch backend only; drop it or use --backend torch")
        if args.device not in (None, "cpu"):
            raise InputError(f"--device {args.device} is a torch device; the MLX backend runs on MLX's own device")
        args.device = "cpu"  # torch only holds the weights and draws the data
    model = _build_model(args, model_kw)
    if backend == "mlx":
        from ..backends import check_mlx_kind

        check_mlx_kind(model.name)  # a kind MLX trains
    config = train_config_from_args(args, model, train_kw)
    if args.save is not None:
        check_save_path(args.save, {"--input": args.input, "--valid": args.valid, "--teacher": args.teacher})
    train_data = read_input(args.input)
    valid_data = read_input(args.valid) if args.valid else None
    if teacher is not None:  # before any work: the bridge file must cover this corpus
        teacher.check_corpus(train_data, "training data")
    rank, world = init_distributed(config.device)
    talk = rank == 0 and not (args.quiet or args.json)
    if talk:
        where = f", {world} processes" if world > 1 else ""
        dev = "mlx" if backend == "mlx" else config.device
        print(f"training {model.name} ({model.num_parameters():,} parameters) on {args.input} "
              f"({len(train_data):,} bytes; {dev}{where})", file=sys.stderr)
    logger = None
    if tensorboard_dir and rank == 0:
        from .tensorboard import TensorBoardLogger

        logger = TensorBoardLogger(tensorboard_dir)
    trainer_cls = Trainer
    if backend == "mlx":
        from .mlx_step import MLXTrainer

        trainer_cls = MLXTrainer
    trainer = trainer_cls(model, train_data, valid_data, config, run_dir=args.run_dir, teacher=teacher,
                          callback=logger)
    try:
        result = trainer.run(resume=bool(args.resume))
    finally:
        if logger is not None:
            logger.close()
    payload: dict[str, Any] = {"train": {k: v for k, v in result.to_dict().items() if k != "curve"}}
    text = str(result)
    if args.save is not None and rank == 0:
        fp = model.save(args.save)
        payload["saved"] = {"path": args.save, "fingerprint": fp}
        text += f"\nsaved              {args.save} (fingerprint {fp[:16]})"
    if rank == 0:
        emit(args, payload, text)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return 0


__all__ = ["run_train", "parse_budget", "parse_tokens", "train_config_from_args"]

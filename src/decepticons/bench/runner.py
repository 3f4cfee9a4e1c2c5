"""Fit every chosen model on train, score it on valid both frozen and prequential, and compress valid.

Static scoring uses :func:`frozen`: a shallow copy of the fitted model whose ``online`` flags (its own and
those of the predictors it is built from: a mixer's experts, an adapter's mixer) are off, so nothing it
scores changes its counts or weights. Adaptive scoring is the model as fitted (adaptive models keep
learning from the bytes they have scored, starting from the fitted state each time).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

import numpy as np

from ..backends import MLX_KINDS
from ..errors import InputError
from ..predictor import CausalPredictor
from .compressors import run_compressors
from .rows import BenchRow
from .throughput import forward_throughput

#: models trained by gradient descent (need torch); ``--quick`` gives them a tiny variant and few steps
TORCH_MODELS = ("causal-bank", "transformer", "mythos")
#: tiny variants for ``--quick``
QUICK_CONFIGS: dict[str, dict[str, Any]] = {
    "causal-bank": {"embed_dim": 16, "input_hidden": 64},
    "transformer": {"n_layer": 2, "d_model": 64, "block_size": 128},
    "mythos": {"d_model": 64, "max_seq_len": 256},
}
#: models that are not self-contained predictors (they read both sides, or wrap trained sources)
NOT_BENCHED = {"oracle": "non-causal (reads the bytes after each position): not a code"}


@dataclass
class BenchConfig:
    """What one bench run does: ``models`` (registry names), ``compressors`` (``None``: all found),
    ``quick`` (tiny torch variants), ``steps`` (optimizer steps of every torch model: the stated budget that
    makes two runs comparable whatever the host's load), ``compress`` (``fast``: a real file for the
    non-torch models, ``all``, ``none``), ``seq_lens`` (lengths of the torch models' forward throughput)."""

    models: list[str]
    compressors: list[str] | None = None
    quick: bool = False
    steps: int = 100
    seq_lens: list[int] = field(default_factory=lambda: [256, 1024, 4096])
    compress: str = "fast"
    seed: int = 0
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what computes the gradient-trained models that have an MLX implementation (``torch`` or ``mlx``)
    backend: str = "torch"


def frozen(model: CausalPredictor) -> CausalPredictor | None:
    """A copy of ``model`` that does not learn while it scores (the model itself when it never does);
    ``None`` when switching its ``online`` flags off does not make it static."""
    if not model.adaptive:
        return model
    m = copy.copy(model)
    for key, value in list(vars(m).items()):
        if isinstance(value, CausalPredictor):
            setattr(m, key, frozen(value) or value)
        elif isinstance(value, list) and value and all(isinstance(v, CausalPredictor) for v in value):
            setattr(m, key, [frozen(v) or v for v in value])
    if hasattr(m, "online"):
        m.online = False
    return None if m.adaptive else m


def model_bytes(model: CausalPredictor) -> int | None:
    """Bytes of the model's learned arrays (what its model file stores), ``None`` if it cannot be saved."""
    try:
        return int(sum(np.asarray(a).nbytes for a in model.state_tensors().values()))
    except NotImplementedError:
        return None


def _build(name: str, cfg: BenchConfig) -> CausalPredictor:
    from ..registry import model_class

    overrides = dict(QUICK_CONFIGS.get(name, {})) if cfg.quick else {}
    overrides.update(cfg.configs.get(name, {}))
    if cfg.backend == "mlx" and name in MLX_KINDS:
        from ..causal_bank.predictor_mlx import MLXCausalBankPredictor

        try:
            return MLXCausalBankPredictor(**overrides, seed=cfg.seed)
        except TypeError as e:
            raise InputError(f"bad configuration for model {name!r}: {e}") from None
    try:
        return model_class(name)(**overrides, seed=cfg.seed)
    except TypeError as e:
        raise InputError(f"bad configuration for model {name!r}: {e}") from None


def _fit(model: Any, name: str, train: np.ndarray, cfg: BenchConfig) -> None:
    """``fit`` from scratch; torch models without evaluations or plots, and ``cfg.steps`` steps under quick."""
    if name in TORCH_MODELS or hasattr(model, "module"):
        kw: dict[str, Any] = {"eval_every": 0, "plot": False, "max_steps": cfg.steps}
        if cfg.quick:
            kw.update(batch_size=8, warmup_steps=min(10, cfg.steps))
        if getattr(model, "backend", None) == "mlx":
            from ..training.mlx_step import fit_mlx

            fit_mlx(model, train, progress=False, **kw)
        else:
            model.fit(train, progress=False, **kw)
    else:
        model.fit(train, progress=False)


def run_model(name: str, train: np.ndarray, valid: np.ndarray, cfg: BenchConfig) -> BenchRow:
    """Fit ``name`` on ``train``; score ``valid`` frozen and prequential; compress it when asked."""
    from ..coding import compress

    if name in NOT_BENCHED:
        return _skipped(name, NOT_BENCHED[name])
    is_torch = name in TORCH_MODELS
    if is_torch and find_spec("torch") is None:
        return _skipped(name, "torch is not installed")
    model = _build(name, cfg)
    t0 = time.perf_counter()
    _fit(model, name, train, cfg)
    fit_s = time.perf_counter() - t0
    adaptive = model.score(valid, progress=False)
    seconds = time.perf_counter() - t0
    still = frozen(model)
    static_bpb = adaptive.bits_per_byte if still is model else (
        None if still is None else still.score(valid, progress=False).bits_per_byte)
    file_bytes = None
    if cfg.compress == "all" or (cfg.compress == "fast" and not (is_torch or hasattr(model, "module"))):
        file_bytes = len(compress(model, valid, progress=False))
    backend = "mlx" if getattr(model, "backend", None) == "mlx" else "torch"
    note = f"{backend}, {cfg.steps} steps" + (", tiny" if cfg.quick else "") if is_torch else ""
    params = int(model.num_parameters()) if hasattr(model, "num_parameters") else None
    return BenchRow(name=name, kind="model", note=note, static_bpb=static_bpb, adaptive_bpb=adaptive.bits_per_byte,
                    file_bpb=None if file_bytes is None else file_bytes * 8 / len(valid), fit_seconds=fit_s,
                    score_kbps=len(valid) / 1024 / max(adaptive.seconds, 1e-9), model_bytes=model_bytes(model),
                    file_bytes=file_bytes, adaptive=bool(model.adaptive), seconds=seconds, params=params,
                    steps=cfg.steps if is_torch else None,
                    throughput=forward_throughput(model, valid, cfg.seq_lens) if is_torch else [])


def _skipped(name: str, why: str) -> BenchRow:
    return BenchRow(name=name, kind="model", note="", static_bpb=None, adaptive_bpb=None, file_bpb=None,
                    fit_seconds=None, score_kbps=None, model_bytes=None, skipped=why)


def run_bench(train: np.ndarray, valid: np.ndarray, cfg: BenchConfig,
              log: Callable[[str], None] | None = None) -> tuple[list[BenchRow], list[str]]:
    """Every model of ``cfg`` then every compressor on ``valid``; returns the rows and notes (what was
    skipped and why). ``log`` receives one line per model as it finishes."""
    if len(train) == 0 or len(valid) == 0:
        raise InputError("the bench needs a non-empty train and valid split")
    rows = []
    for name in cfg.models:
        t0 = time.perf_counter()
        rows.append(run_model(name, train, valid, cfg))
        if log is not None:
            r = rows[-1]
            done = f"skipped ({r.skipped})" if r.skipped else f"adaptive {r.adaptive_bpb:.3f} bits/byte"
            log(f"bench: {name}: {done}, {time.perf_counter() - t0:.1f} s")
    notes = [f"{r.name}: skipped ({r.skipped})" for r in rows if r.skipped]
    crow, cnotes = run_compressors(valid.tobytes(), cfg.compressors)
    return rows + crow, notes + [f"not run: {n}" for n in cnotes]

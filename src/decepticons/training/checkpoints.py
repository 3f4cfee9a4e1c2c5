"""Resumable training checkpoints.

A checkpoint is a folder ``run_dir/checkpoints/step-N`` holding ``model.safetensors`` (the model file),
``trainer.safetensors`` (optimizer moments, slow-gradient accumulators, the data position, step and clocks;
JSON metadata beside the tensors) and ``rank{r}.safetensors`` per process (RNG states and the carried
state). It is written into a temporary folder and renamed, then the ``latest`` pointer is replaced, so an
interruption at any moment leaves the previous checkpoint intact. Resuming restores all of it and
reproduces the uninterrupted run's losses exactly; a checkpoint of another model configuration, other
data-stream settings (:data:`RESUME_FIXED`) or another process count is refused.

Checked on resume, before anything is restored (every refusal a :class:`~decepticons.errors.ModelFileError`):

* ``latest`` is a regular file of at most 64 bytes naming ``step-<digits>``, and that folder is a real folder
  inside the run folder (no symlink, nothing outside);
* each file is verified as :mod:`.checkpoint_files` says (bounded read, checksum, fingerprint, dtypes), and
  the model file as every model file (:func:`~decepticons.runtime.checkpoints.read_model_file`, finite
  weights, the shapes of this model);
* every metadata field is present with its type and range: ``step >= 0``, equal to the folder's ``N`` and
  within the checkpoint's own ``max_steps``; finite clocks with ``train_seconds <= elapsed``; a finite or
  null last loss; the model and training settings as described above;
* the optimizer state matches the parameters: the same groups and group sizes, settings of the same types
  (finite numbers), and per parameter exactly ``step`` (finite, ``0 <= step <= N``), ``exp_avg`` and
  ``exp_avg_sq`` (finite, the parameter's shape, second moments ``>= 0``); the slow accumulators have the
  slow parameters' shapes; no tensor is left over;
* the data position (a generator state of the right size, or a window counter ``>= 0``), the RNG states
  (the sizes torch uses) and the carried state (the structure and shapes of the module's start state).
* a run trained with a teacher signal records the teacher's identity, weight and temperature; resuming with
  another teacher, none, or a teacher where there was none is refused.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelFileError
from ..runtime.checkpoints import atomic_write_bytes, non_finite_tensors, read_model_file
from ..runtime.files import read_regular_file
from .checkpoint_files import flatten_state, read_checkpoint_file, unflatten_state, write_checkpoint_file
from .distributed import barrier

#: train-config fields that must not change when a run is resumed (they define the data stream)
RESUME_FIXED = ("batch_size", "seq_len", "mode", "seed", "slow_every", "slow_params", "valid_fraction")
#: optimizer state per parameter: required entries, and the optional one (AdamW with amsgrad)
_OPT_REQUIRED = frozenset({"step", "exp_avg", "exp_avg_sq"})
_OPT_OPTIONAL = frozenset({"max_exp_avg_sq"})
_STEP_NAME = re.compile(r"step-\d{8,}")


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The folder of the newest complete checkpoint in ``run_dir``, or ``None``; a ``latest`` pointer that
    is not a short regular file naming ``step-N``, or that leads outside the run folder, is refused."""
    ck = Path(run_dir) / "checkpoints"
    pointer = ck / "latest"
    if not pointer.exists() and not pointer.is_symlink():
        return None
    raw = read_regular_file(pointer, ModelFileError, "checkpoint pointer", max_bytes=64)
    name = raw.decode("ascii", "replace").strip()
    if not _STEP_NAME.fullmatch(name):
        raise ModelFileError(f"{pointer} does not name a checkpoint (it holds {name!r:.40}, not step-N)")
    path = ck / name
    if not path.exists() and not path.is_symlink():
        return None
    root = Path(run_dir).resolve()
    if path.is_symlink() or not path.is_dir() or root not in path.resolve().parents:
        raise ModelFileError(f"{pointer} leads to {path}, which is not a checkpoint folder inside {root}")
    return path


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """``key: checkpoint A vs this run B`` for every key whose values differ."""
    keys = sorted(set(a) | set(b))
    return [f"{k}: checkpoint {a.get(k, '<unset>')!r} vs this run {b.get(k, '<unset>')!r}"
            for k in keys if a.get(k) != b.get(k)]


# ---------------------------------------------------------------------------------------------- save / load
def _rank_tensors(tr: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {"rng.cpu": torch.random.get_rng_state()}
    meta: dict[str, Any] = {"rank": tr.rank}
    if tr.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(tr.device)
    if tr.carried and tr.state is not None:
        meta["state_spec"] = flatten_state(tr.state, "state", tensors)
    return tensors, meta


def save_checkpoint(tr: Any) -> Path | None:
    """Write a complete checkpoint of the :class:`~.loop.Trainer` ``tr`` into ``run_dir/checkpoints/step-N``
    atomically (temp folder, rename, then the ``latest`` pointer); keep the newest ``keep_checkpoints``."""
    if tr.run_dir is None:
        return None
    ck = tr.run_dir / "checkpoints"
    name = f"step-{tr.step:08d}"
    tmp = ck / f".tmp-{name}"
    if tr.is_main:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    if tr.world > 1:
        barrier()
    rt, rmeta = _rank_tensors(tr)
    write_checkpoint_file(tmp / f"rank{tr.rank}.safetensors", rt, rmeta)
    if tr.is_main:
        tr.predictor.save(tmp / "model.safetensors")
        tensors: dict[str, torch.Tensor] = {}
        sd = tr.opt.state_dict()
        opt_state_meta: dict[str, dict[str, Any]] = {}
        for idx, st in sd["state"].items():
            opt_state_meta[str(idx)] = {}
            for k, v in st.items():
                if isinstance(v, torch.Tensor):
                    tensors[f"opt.{idx}.{k}"] = v
                else:
                    opt_state_meta[str(idx)][k] = v
        for i, acc in enumerate(tr.slow_acc):
            tensors[f"slow_acc.{i}"] = acc
        data_state = tr.sampler.state()
        if "gen" in data_state:
            tensors["data.gen"] = data_state.pop("gen")
        meta = {
            "step": tr.step, "elapsed": tr.elapsed, "train_seconds": tr.train_seconds,
            "model_kind": tr.predictor.name, "model_config": tr.predictor.config_dict(),
            "train_config": tr.cfg.to_dict(), "world_size": tr.world, "data": data_state,
            "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]],
            "group_sizes": [len(g["params"]) for g in sd["param_groups"]],
            "opt_state": opt_state_meta, "slow_names": tr.slow_names, "last_loss": tr.last_loss,
        }
        if tr.teacher_facts is not None:
            meta["teacher"] = tr.teacher_facts
        write_checkpoint_file(tmp / "trainer.safetensors", tensors, meta)
    if tr.world > 1:
        barrier()
    if tr.is_main:
        final = ck / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        atomic_write_bytes(ck / "latest", name.encode())
        done = sorted(p for p in ck.glob("step-*") if p.is_dir())
        for old in done[:-max(1, tr.cfg.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)
    if tr.world > 1:
        barrier()
    return ck / name


# ---------------------------------------------------------------------------------------------- checks
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_KINDS = {
    "an integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "a finite number": _is_number,
    "a finite number or null": lambda v: v is None or _is_number(v),
    "a string": lambda v: isinstance(v, str),
    "a mapping": lambda v: isinstance(v, dict),
    "a list": lambda v: isinstance(v, list),
}


def _field(meta: dict[str, Any], key: str, where: Path, kind: str, lo: float | None = None) -> Any:
    """``meta[key]``, refusing a missing key, another type or a value below ``lo``."""
    if key not in meta:
        raise ModelFileError(f"checkpoint {where} is incomplete: {key!r} is missing")
    v = meta[key]
    if not _KINDS[kind](v) or (lo is not None and v is not None and v < lo):
        rng = "" if lo is None else f" >= {lo:g}"
        raise ModelFileError(f"checkpoint {where}: {key} = {v!r:.60} is not allowed; allowed: {kind}{rng}")
    return v


def _tensor(tensors: dict[str, torch.Tensor], name: str, where: Path, shape: tuple[int, ...] | None = None,
            floating: bool = True) -> torch.Tensor:
    """``tensors.pop(name)``, refusing a missing tensor, another shape or kind, or non-finite values."""
    t = tensors.pop(name, None)
    if t is None:
        raise ModelFileError(f"checkpoint {where} is incomplete: tensor {name!r} is missing")
    if (shape is not None and tuple(t.shape) != tuple(shape)) or t.is_floating_point() != floating:
        raise ModelFileError(f"checkpoint {where}: tensor {name!r} is {t.dtype}{tuple(t.shape)}, expected "
                             f"{'floating-point' if floating else 'integer'} of shape {tuple(shape or ())}")
    if floating and not bool(torch.isfinite(t).all()):
        raise ModelFileError(f"checkpoint {where}: tensor {name!r} holds non-finite values")
    return t


def _same_kind(value: Any, like: Any) -> bool:
    """A JSON value standing for an optimizer setting of the type of ``like``."""
    if isinstance(like, bool) or like is None:
        return value is None or isinstance(value, bool)
    if isinstance(like, (int, float)):
        return _is_number(value)
    if isinstance(like, (tuple, list)):
        return isinstance(value, list) and len(value) == len(like) and all(_same_kind(v, x) for v, x in
                                                                            zip(value, like))
    return type(value) is type(like)


def _optimizer_state(tr: Any, meta: dict[str, Any], tensors: dict[str, torch.Tensor], where: Path,
                     step: int) -> dict[str, Any]:
    """The optimizer ``state_dict`` the checkpoint describes, checked against ``tr``'s parameters."""
    sizes = _field(meta, "group_sizes", where, "a list")
    if sizes != [len(g["params"]) for g in tr.opt.param_groups]:
        raise ModelFileError(f"checkpoint {where}: optimizer groups do not match this model")
    saved_groups = _field(meta, "param_groups", where, "a list")
    if len(saved_groups) != len(sizes):
        raise ModelFileError(f"checkpoint {where}: optimizer groups do not match this model")
    groups, start = [], 0
    for i, (g, cur, n) in enumerate(zip(saved_groups, tr.opt.param_groups, sizes)):
        want = {k: v for k, v in cur.items() if k != "params"}
        if not isinstance(g, dict) or set(g) != set(want) or not all(_same_kind(g[k], want[k]) for k in want):
            raise ModelFileError(f"checkpoint {where}: optimizer group {i} has other settings than this run's "
                                 f"({sorted(want)})")
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        g["params"] = list(range(start, start + n))
        start += n
        groups.append(g)
    params = tr.params
    state: dict[int, dict[str, Any]] = {}
    extras = _field(meta, "opt_state", where, "a mapping")
    for idx, extra in extras.items():
        if not (isinstance(idx, str) and idx.isdigit() and int(idx) < len(params)) or not isinstance(extra, dict) \
                or not all(isinstance(k, str) and (_is_number(v) or isinstance(v, bool)) for k, v in extra.items()):
            raise ModelFileError(f"checkpoint {where}: optimizer state {idx!r:.20} does not fit this model")
        state[int(idx)] = dict(extra)
    for name in sorted(k for k in tensors if k.startswith("opt.")):
        _, idx, key = (name.split(".", 2) + ["", ""])[:3]
        if not idx.isdigit() or int(idx) >= len(params) or key not in _OPT_REQUIRED | _OPT_OPTIONAL:
            raise ModelFileError(f"checkpoint {where}: tensor {name!r} belongs to no parameter of this model")
        p = params[int(idx)]
        t = _tensor(tensors, name, where, () if key == "step" else tuple(p.shape))
        if (key == "step" and not 0 <= float(t) <= step) or (key.endswith("sq") and bool((t < 0).any())):
            raise ModelFileError(f"checkpoint {where}: optimizer {key} of parameter {idx} is out of range")
        state.setdefault(int(idx), {})[key] = t
    for idx, st in state.items():
        if not _OPT_REQUIRED <= set(st) or not set(st) <= _OPT_REQUIRED | _OPT_OPTIONAL:
            raise ModelFileError(f"checkpoint {where}: optimizer state of parameter {idx} is incomplete "
                                 f"({sorted(st)}; needs {sorted(_OPT_REQUIRED)})")
    return {"state": state, "param_groups": groups}


def _check_settings(tr: Any, meta: dict[str, Any], where: Path) -> int:
    """The checkpoint's facts against this run; returns its step."""
    step = _field(meta, "step", where, "an integer", 0)
    if where.parent.name != f"step-{step:08d}":
        raise ModelFileError(f"checkpoint {where} says it is of step {step}, its folder is {where.parent.name}")
    elapsed = _field(meta, "elapsed", where, "a finite number", 0)
    if _field(meta, "train_seconds", where, "a finite number", 0) > elapsed:
        raise ModelFileError(f"checkpoint {where}: train_seconds exceeds elapsed")
    _field(meta, "last_loss", where, "a finite number or null")
    kind, conf = tr.predictor.name, tr.predictor.config_dict()
    ck_kind = _field(meta, "model_kind", where, "a string")
    ck_conf = _field(meta, "model_config", where, "a mapping")
    if ck_kind != kind or ck_conf != conf:
        diff = config_diff(ck_conf, conf) if ck_kind == kind else \
            [f"model kind: checkpoint {ck_kind!r:.40} vs this run {kind!r}"]
        raise ModelFileError(f"checkpoint {where} was written for a different model configuration; "
                             f"refusing to resume ({'; '.join(diff[:6])})")
    ck_train = _field(meta, "train_config", where, "a mapping")
    budget = ck_train.get("max_steps")
    if budget is not None and (not _KINDS["an integer"](budget) or step > budget):
        raise ModelFileError(f"checkpoint {where}: step {step} is past its own run's budget ({budget!r:.20} steps)")
    mine = tr.cfg.to_dict()
    diff = config_diff({k: ck_train.get(k) for k in RESUME_FIXED}, {k: mine[k] for k in RESUME_FIXED})
    if diff:
        raise ModelFileError(f"checkpoint {where} was written with other training settings; refusing to "
                             f"resume ({'; '.join(diff)})")
    world = _field(meta, "world_size", where, "an integer", 1)
    if world != tr.world:
        raise ModelFileError(f"checkpoint {where} was written by {world} processes; resume it with the same "
                             f"number (this run has {tr.world})")
    if _field(meta, "slow_names", where, "a list") != tr.slow_names:
        raise ModelFileError(f"checkpoint {where} has other slow parameters than this run")
    if meta.get("teacher") != tr.teacher_facts:  # the objective: the teacher's rows, weight and temperature
        raise ModelFileError(f"checkpoint {where} was trained with another teacher signal than this run "
                             f"({'none' if meta.get('teacher') is None else 'a teacher'} vs "
                             f"{'none' if tr.teacher_facts is None else 'a teacher'}, or other rows, weight or "
                             f"temperature); refusing to resume")
    return step


def _load_weights(tr: Any, path: Path) -> None:
    mf = read_model_file(path / "model.safetensors", expected_kind=tr.predictor.name)
    own = tr.module.state_dict()
    bad = non_finite_tensors(mf.tensors)
    if bad:
        raise ModelFileError(f"checkpoint {path} holds non-finite weights ({', '.join(bad[:3])})")
    if set(mf.tensors) != set(own) or any(tuple(own[k].shape) != mf.tensors[k].shape for k in own):
        raise ModelFileError(f"checkpoint {path} holds weights that do not fit this model")
    tr.module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)).to(own[k].dtype)
                               for k, v in mf.tensors.items()})


def _data_state(tr: Any, meta: dict[str, Any], tensors: dict[str, torch.Tensor], where: Path) -> dict[str, Any]:
    data = dict(_field(meta, "data", where, "a mapping"))
    if "gen" in tr.sampler.state():  # random windows: the generator's state is the data position
        shape = tuple(tr.sampler.state()["gen"].shape)
        if data:
            raise ModelFileError(f"checkpoint {where}: unexpected data position {sorted(data)}")
        data["gen"] = _tensor(tensors, "data.gen", where, shape, floating=False)
    elif set(data) != {"k"} or not _KINDS["an integer"](data["k"]) or data["k"] < 0:
        raise ModelFileError(f"checkpoint {where}: the data position must be a window count k >= 0, got "
                             f"{data!r:.60}")
    return data


def load_checkpoint(tr: Any, path: Path) -> None:
    """Restore into the :class:`~.loop.Trainer` ``tr`` everything :func:`save_checkpoint` wrote, after the
    checks of the module docstring; refuse checkpoints of another model or setup."""
    where = path / "trainer.safetensors"
    tensors, meta = read_checkpoint_file(where)
    step = _check_settings(tr, meta, where)
    opt_state = _optimizer_state(tr, meta, tensors, where, step)
    slow = [_tensor(tensors, f"slow_acc.{i}", where, tuple(acc.shape)) for i, acc in enumerate(tr.slow_acc)]
    data_state = _data_state(tr, meta, tensors, where)
    if tensors:
        raise ModelFileError(f"checkpoint {where} holds unexpected tensors ({', '.join(sorted(tensors)[:3])})")
    rank_file = path / f"rank{tr.rank}.safetensors"
    rt, rmeta = read_checkpoint_file(rank_file)
    if rmeta.get("rank") != tr.rank:
        raise ModelFileError(f"checkpoint {rank_file} belongs to rank {rmeta.get('rank')!r:.20}, not {tr.rank}")
    rng_cpu = _tensor(rt, "rng.cpu", rank_file, tuple(torch.random.get_rng_state().shape), floating=False)
    rng_cuda = None
    if tr.device.type == "cuda" and "rng.cuda" in rt:
        rng_cuda = _tensor(rt, "rng.cuda", rank_file, tuple(torch.cuda.get_rng_state(tr.device).shape), False)
    state = None
    if "state_spec" in rmeta:
        if not tr.carried:
            raise ModelFileError(f"checkpoint {rank_file} holds a carried state, but this run is detached")
        like = tr.module.init_state(tr.local_batch)
        state = unflatten_state(rmeta["state_spec"], rt, like, tr.device)
    # everything is checked: restore
    _load_weights(tr, path)
    try:
        tr.opt.load_state_dict(opt_state)
        tr.sampler.load_state(data_state)
        torch.random.set_rng_state(rng_cpu)
        if rng_cuda is not None:
            torch.cuda.set_rng_state(rng_cuda, tr.device)
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise ModelFileError(f"checkpoint {path} cannot be restored: {str(e)[:200]}") from None
    for acc, saved in zip(tr.slow_acc, slow):
        acc.copy_(saved)
    tr.step = step
    tr.elapsed = float(meta["elapsed"])
    tr.train_seconds = float(meta["train_seconds"])
    tr.last_loss = meta["last_loss"]
    tr.state = state
    _keep_metrics(tr)


def _keep_metrics(tr: Any) -> None:
    """Keep what the interrupted run logged up to the checkpoint's step."""
    tr.curve = []
    mp = tr.metrics_path
    if mp is not None and mp.exists():
        kept = []
        for line in mp.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by the interruption
            if isinstance(rec, dict) and isinstance(rec.get("step", 0), int) and rec.get("step", 0) <= tr.step:
                kept.append(rec)
        tr.curve = kept
        if tr.is_main:
            atomic_write_bytes(mp, "".join(json.dumps(r) + "\n" for r in kept).encode())

"""Resumable training checkpoints.

A checkpoint is a folder ``run_dir/checkpoints/step-N`` holding ``model.safetensors`` (the model file),
``trainer.safetensors`` (optimizer moments, slow-gradient accumulators, the data position, step and clocks;
JSON metadata beside the tensors) and ``rank{r}.safetensors`` per process (RNG states and the carried
state). It is written into a temporary folder and renamed, then the ``latest`` pointer is replaced, so an
interruption at any moment leaves the previous checkpoint intact. Resuming restores all of it and
reproduces the uninterrupted run's losses exactly; a checkpoint of another model configuration, other
data-stream settings (:data:`RESUME_FIXED`) or another process count is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelFileError
from ..runtime.checkpoints import atomic_write_bytes, read_model_file
from .distributed import barrier

CHECKPOINT_FORMAT = "decepticons-train-checkpoint"
#: train-config fields that must not change when a run is resumed (they define the data stream)
RESUME_FIXED = ("batch_size", "seq_len", "mode", "seed", "slow_every", "slow_params", "valid_fraction")


# ---------------------------------------------------------------------------------------------- state trees
def flatten_state(tree: Any, prefix: str, out: dict[str, torch.Tensor]) -> Any:
    """Tensors of ``tree`` into ``out`` under ``prefix``-based names; returns a JSON spec to rebuild it."""
    if isinstance(tree, torch.Tensor):
        out[prefix] = tree.detach().cpu().contiguous()
        return {"t": prefix}
    if isinstance(tree, (tuple, list)):
        return {"seq": [flatten_state(t, f"{prefix}.{i}", out) for i, t in enumerate(tree)],
                "tuple": isinstance(tree, tuple)}
    if isinstance(tree, dict):
        return {"map": {k: flatten_state(v, f"{prefix}.{k}", out) for k, v in tree.items()}}
    if tree is None or isinstance(tree, (int, float, bool, str)):
        return {"v": tree}
    raise TypeError(f"cannot checkpoint a carried state of type {type(tree).__name__}")


def unflatten_state(spec: Any, tensors: dict[str, torch.Tensor], device: torch.device) -> Any:
    """Inverse of :func:`flatten_state`, tensors moved to ``device``."""
    if "t" in spec:
        return tensors[spec["t"]].to(device)
    if "seq" in spec:
        items = [unflatten_state(s, tensors, device) for s in spec["seq"]]
        return tuple(items) if spec["tuple"] else items
    if "map" in spec:
        return {k: unflatten_state(v, tensors, device) for k, v in spec["map"].items()}
    return spec["v"]


# ---------------------------------------------------------------------------------------------- files
def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """One checkpoint file, written atomically: tensors plus JSON ``meta``."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    if not tensors:
        tensors = {"_empty": torch.zeros(0, dtype=torch.uint8)}
    atomic_write_bytes(path, save(tensors, metadata={"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta)}))


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, meta)`` of a file written by :func:`write_safetensors`; refuses damaged or foreign files."""
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
    write_safetensors(tmp / f"rank{tr.rank}.safetensors", rt, rmeta)
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
        write_safetensors(tmp / "trainer.safetensors", tensors, meta)
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


def load_checkpoint(tr: Any, path: Path) -> None:
    """Restore into the :class:`~.loop.Trainer` ``tr`` everything :func:`save_checkpoint` wrote; refuse
    checkpoints of another model or setup."""
    tensors, meta = read_safetensors(path / "trainer.safetensors")
    kind, conf = tr.predictor.name, tr.predictor.config_dict()
    if meta["model_kind"] != kind or meta["model_config"] != conf:
        diff = config_diff(meta["model_config"], conf) if meta["model_kind"] == kind else \
            [f"model kind: checkpoint {meta['model_kind']!r} vs this run {kind!r}"]
        raise ModelFileError(f"checkpoint {path} was written for a different model configuration; "
                             f"refusing to resume ({'; '.join(diff[:6])})")
    mine = tr.cfg.to_dict()
    diff = config_diff({k: meta["train_config"].get(k) for k in RESUME_FIXED}, {k: mine[k] for k in RESUME_FIXED})
    if diff:
        raise ModelFileError(f"checkpoint {path} was written with other training settings; refusing to "
                             f"resume ({'; '.join(diff)})")
    if meta["world_size"] != tr.world:
        raise ModelFileError(f"checkpoint {path} was written by {meta['world_size']} processes; resume it "
                             f"with the same number (this run has {tr.world})")
    if meta["slow_names"] != tr.slow_names:
        raise ModelFileError(f"checkpoint {path} has other slow parameters than this run")
    mf = read_model_file(path / "model.safetensors", expected_kind=kind)
    own = tr.module.state_dict()
    if set(mf.tensors) != set(own) or any(tuple(own[k].shape) != mf.tensors[k].shape for k in own):
        raise ModelFileError(f"checkpoint {path} holds weights that do not fit this model")
    tr.module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)).to(own[k].dtype)
                               for k, v in mf.tensors.items()})
    # optimizer
    params_per_group = meta["group_sizes"]
    if params_per_group != [len(g["params"]) for g in tr.opt.param_groups]:
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
    tr.opt.load_state_dict({"state": state, "param_groups": groups})
    for i, acc in enumerate(tr.slow_acc):
        acc.copy_(tensors[f"slow_acc.{i}"])
    data_state = dict(meta["data"])
    if "data.gen" in tensors:
        data_state["gen"] = tensors["data.gen"]
    tr.sampler.load_state(data_state)
    tr.step = int(meta["step"])
    tr.elapsed = float(meta["elapsed"])
    tr.train_seconds = float(meta["train_seconds"])
    tr.last_loss = meta.get("last_loss")
    rt, rmeta = read_safetensors(path / f"rank{tr.rank}.safetensors")
    torch.random.set_rng_state(rt["rng.cpu"])
    if "rng.cuda" in rt and tr.device.type == "cuda":
        torch.cuda.set_rng_state(rt["rng.cuda"], tr.device)
    tr.state = unflatten_state(rmeta["state_spec"], rt, tr.device) if "state_spec" in rmeta else None
    # metrics: keep what the interrupted run logged up to the checkpoint
    tr.curve = []
    mp = tr.metrics_path
    if mp is not None and mp.exists():
        kept = []
        for line in mp.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by the interruption
            if rec.get("step", 0) <= tr.step:
                kept.append(rec)
        tr.curve = kept
        if tr.is_main:
            atomic_write_bytes(mp, "".join(json.dumps(r) + "\n" for r in kept).encode())

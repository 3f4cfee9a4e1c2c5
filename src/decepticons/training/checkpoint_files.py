"""Checkpoint files: torch tensors plus JSON metadata in one safetensors file, verified like model files.

Metadata keys (strings)::

    format          "decepticons-train-checkpoint"
    format_version  "2"
    meta            JSON object: the trainer's facts (step, clocks, configurations, optimizer settings, ...)
    dtypes          JSON object: tensor name -> torch dtype ("float32", "bfloat16", ...)
    fingerprint     sha256 over the format, meta, dtypes and every tensor (name, dtype, shape, bytes)
    checksum        sha256 over every other metadata entry

Tensors whose torch dtype numpy cannot hold (``bfloat16``) are stored as their bits (``int16``) and viewed
back. Reading goes through :func:`decepticons.runtime.tensor_file.read_safetensors` (a regular file, the
header and tensor table bounded and checked before anything is allocated, no memory map), then the checksum
and the fingerprint are verified and every tensor's dtype is compared with ``dtypes``: an edited value or a
flipped bit anywhere is a :class:`~decepticons.errors.ModelFileError`. As for model files these are
integrity checks, not signatures; what the values mean is checked by :mod:`.checkpoints`.

Carried states (nested tuples, lists and dicts of tensors) go in as tensors named by their path plus a JSON
spec of the nesting (:func:`flatten_state` / :func:`unflatten_state`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelFileError
from ..runtime.checkpoints import fingerprint, metadata_checksum
from ..runtime.files import atomic_write_bytes
from ..runtime.tensor_file import read_safetensors

CHECKPOINT_FORMAT = "decepticons-train-checkpoint"
CHECKPOINT_VERSION = "2"
#: torch dtypes stored as their bits, and the numpy type of those bits
_AS_BITS = {torch.bfloat16: np.int16}


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu().contiguous()
    if t.dtype in _AS_BITS:
        return t.view(torch.int16).numpy().copy()
    return t.numpy().copy()


def _digest(meta: dict[str, Any], dtypes: dict[str, str], arrays: dict[str, np.ndarray]) -> str:
    return fingerprint(CHECKPOINT_FORMAT, {"meta": meta, "dtypes": dtypes}, arrays)


def write_checkpoint_file(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """One checkpoint file, written atomically: ``tensors`` plus the JSON object ``meta`` (module docstring)."""
    from safetensors.numpy import save

    arrays = {k: _to_numpy(v) for k, v in tensors.items()}
    dtypes = {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()}
    if not arrays:
        arrays = {"_empty": np.zeros(0, dtype=np.uint8)}
        dtypes = {"_empty": "uint8"}
    md = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "meta": json.dumps(meta, sort_keys=True),
          "dtypes": json.dumps(dtypes, sort_keys=True)}
    md["fingerprint"] = _digest(json.loads(md["meta"]), dtypes, arrays)
    md["checksum"] = metadata_checksum(md)
    atomic_write_bytes(path, save(arrays, metadata=md))


def _check_header(md: dict[str, str], path: Path) -> None:
    if md.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path} is not a decepticons training checkpoint")
    if md.get("format_version") != CHECKPOINT_VERSION:
        raise ModelFileError(f"{path} is a training checkpoint of format version "
                             f"{md.get('format_version', '1')!r:.20}; this version resumes version "
                             f"{CHECKPOINT_VERSION!r} only (start the run afresh)")
    if md.get("checksum") != metadata_checksum(md):
        raise ModelFileError(f"{path} is corrupted: its metadata does not match the checksum stored in it")


def read_checkpoint_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, meta)`` of a file written by :func:`write_checkpoint_file`, verified (module docstring)."""
    md, arrays = read_safetensors(path, lambda m: _check_header(m, path), error=ModelFileError,
                                  what="training checkpoint")
    try:
        meta, dtypes = json.loads(md["meta"]), json.loads(md["dtypes"])
    except (KeyError, ValueError, RecursionError) as e:
        raise ModelFileError(f"{path} is corrupted: its metadata is not valid JSON ({str(e)[:200]})") from None
    if not isinstance(meta, dict) or not isinstance(dtypes, dict) or set(dtypes) != set(arrays):
        raise ModelFileError(f"{path} is corrupted: its metadata does not describe its tensors")
    if _digest(meta, dtypes, arrays) != md.get("fingerprint"):
        raise ModelFileError(f"{path} is corrupted: its contents do not match the fingerprint stored in it")
    tensors = {}
    for name, a in arrays.items():
        want = getattr(torch, str(dtypes[name]), None)
        if not isinstance(want, torch.dtype):
            raise ModelFileError(f"{path}: tensor {name!r} has unknown dtype {dtypes[name]!r:.40}")
        t = torch.from_numpy(a)
        if want in _AS_BITS and a.dtype == _AS_BITS[want]:
            t = t.view(want)
        if t.dtype != want:
            raise ModelFileError(f"{path}: tensor {name!r} holds {t.dtype}, its metadata says {want}")
        tensors[name] = t
    tensors.pop("_empty", None)
    return tensors, meta


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


def unflatten_state(spec: Any, tensors: dict[str, torch.Tensor], like: Any, device: torch.device,
                    where: str = "state") -> Any:
    """Inverse of :func:`flatten_state`, tensors moved to ``device``. The result must have the structure and
    tensor shapes of ``like`` (the module's own start state; floating-point where it is, finite) and leaves of
    its types; anything else is a :class:`ModelFileError` naming the first difference."""
    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"checkpoint's carried state does not fit this model: {where} {what}")

    if not isinstance(spec, dict) or len(spec) not in (1, 2):
        raise bad("is not a valid state description")
    if isinstance(like, torch.Tensor):
        name = spec.get("t")
        t = tensors.get(name) if isinstance(name, str) else None
        if t is None:
            raise bad("is missing")
        if tuple(t.shape) != tuple(like.shape) or t.is_floating_point() != like.is_floating_point():
            raise bad(f"has {t.dtype}{tuple(t.shape)}, expected {like.dtype}{tuple(like.shape)}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise bad("holds non-finite values")
        return t.to(device)
    if isinstance(like, (tuple, list)):
        items = spec.get("seq")
        if not isinstance(items, list) or len(items) != len(like):
            raise bad(f"should be a sequence of {len(like)}")
        out = [unflatten_state(s, tensors, x, device, f"{where}[{i}]") for i, (s, x) in enumerate(zip(items, like))]
        return tuple(out) if isinstance(like, tuple) else out
    if isinstance(like, dict):
        items = spec.get("map")
        if not isinstance(items, dict) or set(items) != set(like):
            raise bad(f"should have the keys {sorted(like)}")
        return {k: unflatten_state(items[k], tensors, like[k], device, f"{where}.{k}") for k in like}
    value = spec.get("v", ...)
    if type(value) is not type(like):
        raise bad(f"should be a {type(like).__name__}")
    return value


__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "flatten_state", "read_checkpoint_file", "unflatten_state",
           "write_checkpoint_file"]

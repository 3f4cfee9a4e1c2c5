"""Model files: one ``.safetensors`` file holding tensors plus JSON metadata. Never pickle.

Metadata keys (all strings, as safetensors requires)::

    format          "decepticons-model"
    format_version  "1"
    kind            registry name of the model ("coder", "ngram", "causal-bank", ...)
    config          JSON of the model's configuration
    version         package version that wrote the file
    fingerprint     sha256 over kind, config and every tensor (name, dtype, shape, bytes)
    extra           JSON of anything else the model wants to keep (optional)
    checksum        sha256 over every other metadata entry

Writes go through :func:`decepticons.runtime.files.atomic_write_bytes`: the file is written beside the
target and moved into place, so an interrupted save never leaves a half-written model where a good one was.

Reading (:func:`read_model_file`) goes through :func:`decepticons.runtime.tensor_file.read_safetensors`:
the path must be a regular file, the header is bounded by the file and checked (metadata here: ``format``,
``format_version``, checksum, kind; then the tensor table) before any tensor is allocated, and the data is
read by ``read()`` calls. Then the fingerprint is verified, so a flipped byte anywhere in the file is
reported rather than silently producing a different model. What these checks cannot tell is whether
well-formed tensors make sense for their model (count tables consistent with each other, indices in
range): that is each model class's ``from_state``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from .files import atomic_write_bytes
from .tensor_file import read_safetensors

FORMAT = "decepticons-model"
FORMAT_VERSION = "1"


#: key of ``extra`` holding the facts besides config and weights that change predictions (fingerprinted)
FACTS_KEY = "prediction_facts"


def fingerprint(kind: str, config: dict[str, Any], tensors: dict[str, np.ndarray],
                facts: dict[str, Any] | None = None) -> str:
    """sha256 hex digest identifying a model exactly: configuration, every weight and, when given, the other
    facts that change its predictions (e.g. a scoring window recorded by the trainer)."""
    if facts:
        config = {**config, "__" + FACTS_KEY: facts}
    h = hashlib.sha256()
    h.update(kind.encode())
    h.update(json.dumps(config, sort_keys=True).encode())
    for name in sorted(tensors):
        a = np.asarray(tensors[name], order="C")  # ascontiguousarray would turn 0-d into shape (1,)
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def non_finite_tensors(tensors: dict[str, np.ndarray], allowed: tuple[str, ...] = ()) -> list[str]:
    """Names of the floating-point tensors holding NaN or an infinity, except those matching an ``allowed``
    fnmatch pattern (a model that stores such values on purpose declares them)."""
    from fnmatch import fnmatch

    return [name for name, a in sorted(tensors.items())
            if np.asarray(a).dtype.kind in "fc" and not any(fnmatch(name, pat) for pat in allowed)
            and not np.all(np.isfinite(a))]


def metadata_checksum(meta: dict[str, str]) -> str:
    """sha256 of every metadata entry but ``checksum``: covers what the fingerprint does not (version, extra)."""
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class ModelFile:
    kind: str
    config: dict[str, Any]
    tensors: dict[str, np.ndarray]
    version: str
    fingerprint: str
    extra: dict[str, Any]


def save_model_file(path: str | os.PathLike[str], kind: str, config: dict[str, Any],
                    tensors: dict[str, np.ndarray], extra: dict[str, Any] | None = None) -> str:
    """Atomically write a model file; returns its fingerprint."""
    from safetensors.numpy import save

    from ..version import __version__

    tensors = {k: np.asarray(v, order="C") for k, v in tensors.items()}
    if not tensors:  # safetensors needs no tensors, but keep every file self-describing
        tensors = {"_empty": np.zeros(0, dtype=np.uint8)}
    fp = fingerprint(kind, config, tensors, (extra or {}).get(FACTS_KEY))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "config": json.dumps(config, sort_keys=True), "version": __version__, "fingerprint": fp,
            "extra": json.dumps(extra or {}, sort_keys=True)}
    meta["checksum"] = metadata_checksum(meta)
    atomic_write_bytes(path, save(tensors, metadata=meta))
    return fp


def _check_metadata(meta: dict[str, str], p: Path, expected_kind: str | None) -> None:
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{p} is a safetensors file but not a decepticons model "
                             f"(format={meta.get('format')!r:.80})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{p} uses model format version {meta.get('format_version')!r:.80}; "
                             f"this version reads {FORMAT_VERSION!r}")
    if meta.get("checksum") != metadata_checksum(meta):
        raise ModelFileError(f"{p} is corrupted: its metadata does not match the checksum stored in it")
    kind = meta.get("kind", "")
    if expected_kind is not None and kind != expected_kind:
        raise ModelFileError(f"{p} holds a {kind!r} model, not a {expected_kind!r} model")


def read_model_file(path: str | os.PathLike[str], expected_kind: str | None = None) -> ModelFile:
    """Read and verify a model file; every failure is a :class:`ModelFileError` with a clear message.

    Memory: the file's size (bounded before reading by the header) plus the tensors built from it.
    """
    p = Path(path)
    meta, tensors = read_safetensors(p, lambda m: _check_metadata(m, p, expected_kind), what="model file")
    kind = meta.get("kind", "")
    try:
        config = json.loads(meta["config"])
        extra = json.loads(meta.get("extra", "{}"))
    except (KeyError, ValueError, RecursionError) as e:
        raise ModelFileError(f"{p} is corrupted: its config or extra is not valid JSON ({str(e)[:200]})") from None
    facts = extra.get(FACTS_KEY) if isinstance(extra, dict) else None
    if facts is not None and not isinstance(facts, dict):
        raise ModelFileError(f"{p} is corrupted: its {FACTS_KEY} is not a mapping")
    fp = fingerprint(kind, config, tensors, facts)
    if fp != meta.get("fingerprint"):
        raise ModelFileError(f"{p} is corrupted: its contents do not match the fingerprint stored in it")
    if "_empty" in tensors and tensors["_empty"].size == 0:
        del tensors["_empty"]
    return ModelFile(kind=kind, config=config, tensors=tensors, version=meta.get("version", "?"),
                     fingerprint=fp, extra=extra)


__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFile", "atomic_write_bytes", "fingerprint", "metadata_checksum",
           "non_finite_tensors", "read_model_file", "save_model_file"]

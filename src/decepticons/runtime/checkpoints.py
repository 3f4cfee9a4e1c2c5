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

Writes are atomic: the file is written beside the target and moved into place, so an interrupted save
never leaves a half-written model where a good one was. Loading verifies the fingerprint, so a flipped
byte anywhere in the file is reported rather than silently producing a different model.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError

FORMAT = "decepticons-model"
FORMAT_VERSION = "1"


def fingerprint(kind: str, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> str:
    """sha256 hex digest identifying a model exactly (configuration and every weight)."""
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


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def save_model_file(path: str | os.PathLike, kind: str, config: dict[str, Any],
                    tensors: dict[str, np.ndarray], extra: dict[str, Any] | None = None) -> str:
    """Atomically write a model file; returns its fingerprint."""
    from safetensors.numpy import save

    from .. import __version__

    tensors = {k: np.asarray(v, order="C") for k, v in tensors.items()}
    if not tensors:  # safetensors needs no tensors, but keep every file self-describing
        tensors = {"_empty": np.zeros(0, dtype=np.uint8)}
    fp = fingerprint(kind, config, tensors)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "config": json.dumps(config, sort_keys=True), "version": __version__, "fingerprint": fp,
            "extra": json.dumps(extra or {}, sort_keys=True)}
    meta["checksum"] = metadata_checksum(meta)
    atomic_write_bytes(path, save(tensors, metadata=meta))
    return fp


def read_model_file(path: str | os.PathLike, expected_kind: str | None = None) -> ModelFile:
    """Read and verify a model file; every failure is a :class:`ModelFileError` with a clear message."""
    from safetensors.numpy import load

    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"model file not found: {p}")
    if p.is_dir():
        raise ModelFileError(f"expected a model file, got a directory: {p}")
    raw = p.read_bytes()
    if len(raw) < 8:
        raise ModelFileError(f"{p} is not a decepticons model file (only {len(raw)} bytes; truncated?)")
    header_len = int.from_bytes(raw[:8], "little")
    if header_len <= 0 or 8 + header_len > len(raw):
        raise ModelFileError(f"{p} is truncated or not a safetensors model file "
                             f"(header says {header_len} bytes, file has {len(raw)})")
    try:
        header = json.loads(raw[8:8 + header_len])
        meta = header.get("__metadata__") or {}
        if not isinstance(meta, dict):
            raise ValueError(f"metadata is a {type(meta).__name__}, not a mapping")
    except (ValueError, UnicodeDecodeError, AttributeError) as e:
        raise ModelFileError(f"{p} has a corrupted header: {e}") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{p} is a safetensors file but not a decepticons model "
                             f"(format={meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{p} uses model format version {meta.get('format_version')!r}; "
                             f"this version reads {FORMAT_VERSION!r}")
    if meta.get("checksum") != metadata_checksum(meta):
        raise ModelFileError(f"{p} is corrupted: its metadata does not match the checksum stored in it")
    kind = meta.get("kind", "")
    if expected_kind is not None and kind != expected_kind:
        raise ModelFileError(f"{p} holds a {kind!r} model, not a {expected_kind!r} model")
    try:
        tensors = load(raw)
        config = json.loads(meta["config"])
        extra = json.loads(meta.get("extra", "{}"))
    except Exception as e:  # safetensors raises its own error types
        raise ModelFileError(f"{p} is truncated or corrupted: {e}") from None
    fp = fingerprint(kind, config, tensors)
    if fp != meta.get("fingerprint"):
        raise ModelFileError(f"{p} is corrupted: its contents do not match the fingerprint stored in it")
    if "_empty" in tensors and tensors["_empty"].size == 0:
        del tensors["_empty"]
    return ModelFile(kind=kind, config=config, tensors=tensors, version=meta.get("version", "?"),
                     fingerprint=fp, extra=extra)

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

Reading (:func:`read_model_file`) never reads more than the file's own header allows and checks, before
any tensor is allocated:

* the path is a regular file (``/dev/zero`` or a FIFO is refused at once, by ``fstat`` on the open file);
* the header length ``n`` (first 8 bytes, little-endian) satisfies ``8 + n <= file size`` and
  ``n <= MAX_HEADER_BYTES``; the header is a JSON object (nesting too deep to parse is refused) of string metadata and
  tensors;
* the metadata: ``format``, ``format_version``, checksum, kind;
* the tensors: at most ``MAX_TENSORS`` of them, each with a dtype in :data:`DTYPES`, a shape of at most
  ``MAX_DIMS`` non-negative integers, and ``data_offsets = [begin, end]`` with
  ``end - begin = prod(shape) * itemsize``; the byte ranges, sorted, tile the data section
  ``[0, file size - 8 - n)`` exactly (no gap, no overlap), so the tensors' total size is the file's size.

Only then are the ``file size - 8 - n`` data bytes read (``read()`` calls: a file shrinking meanwhile is
a clear error, not SIGBUS); each tensor is copied out of them as a native-order array and the fingerprint
is verified, so a flipped byte anywhere in the file is reported rather than silently producing a
different model. Memory: the file's size plus its tensors. What these checks cannot tell is whether
well-formed tensors make sense for their model (count tables consistent with each other, indices in
range): that is each model class's ``from_state``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from .files import atomic_write_bytes, open_regular_file, read_exact

FORMAT = "decepticons-model"
FORMAT_VERSION = "1"
#: safetensors' own limit on the JSON header
MAX_HEADER_BYTES = 100_000_000
MAX_TENSORS = 1 << 16
MAX_DIMS = 32
#: safetensors dtype -> numpy dtype: the types numpy holds exactly (no bfloat16, no float8)
NUMPY_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "F16": "float16",
                "U32": "uint32", "I32": "int32", "F32": "float32", "U64": "uint64", "I64": "int64",
                "F64": "float64"}
#: safetensors dtype -> item size in bytes
DTYPES = {k: np.dtype(v).itemsize for k, v in NUMPY_DTYPES.items()}


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


def check_tensor_layout(header: dict[str, Any], data_bytes: int, p: Path) -> None:
    """Refuse a safetensors header whose tensors do not exactly fill ``data_bytes`` (module docstring)."""
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    if len(entries) > MAX_TENSORS:
        raise ModelFileError(f"{p} lists {len(entries):,} tensors, more than the {MAX_TENSORS:,} allowed")
    spans = []
    for name, info in entries:
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(f"{p} has a corrupted header: tensor {name!r} is not described by dtype, "
                                 "shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ModelFileError(f"{p}: tensor {name!r} has dtype {dtype!r}; allowed: {', '.join(DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > MAX_DIMS
                or not all(type(d) is int and 0 <= d < 1 << 48 for d in shape)):
            raise ModelFileError(f"{p} has a corrupted header: tensor {name!r} has shape {shape!r:.80}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_bytes):
            raise ModelFileError(f"{p} is truncated or corrupted: tensor {name!r} has data_offsets "
                                 f"{offsets!r:.80}, outside the {data_bytes:,} data bytes the file holds")
        if math.prod(shape) * DTYPES[dtype] != offsets[1] - offsets[0]:
            raise ModelFileError(f"{p} has a corrupted header: tensor {name!r} of shape {shape} and dtype "
                                 f"{dtype} needs {math.prod(shape) * DTYPES[dtype]:,} bytes, its offsets "
                                 f"give {offsets[1] - offsets[0]:,}")
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise ModelFileError(f"{p} has a corrupted header: tensor {name!r} starts at byte {begin:,} of the "
                                 f"data, where {end:,} was expected (a gap or an overlap)")
        end = stop
    if end != data_bytes:
        raise ModelFileError(f"{p} is truncated or corrupted: its tensors need {end:,} bytes of data, the file "
                             f"holds {data_bytes:,}")


def read_model_file(path: str | os.PathLike, expected_kind: str | None = None) -> ModelFile:
    """Read and verify a model file; every failure is a :class:`ModelFileError` with a clear message.

    Memory: the file's size (bounded before reading by the header) plus the tensors built from it.
    """
    p = Path(path)
    with open_regular_file(p, ModelFileError, "model file") as (f, size):
        if size < 8:
            raise ModelFileError(f"{p} is not a decepticons model file (only {size} bytes; truncated?)")
        raw = bytearray(size)
        view = memoryview(raw)
        read_exact(f, view[:8], p, ModelFileError, at_end=False)
        header_len = int.from_bytes(raw[:8], "little")
        if header_len <= 0 or 8 + header_len > size:
            raise ModelFileError(f"{p} is truncated or not a safetensors model file "
                                 f"(header says {header_len} bytes, file has {size})")
        if header_len > MAX_HEADER_BYTES:
            raise ModelFileError(f"{p} has a {header_len:,}-byte header, more than the {MAX_HEADER_BYTES:,} "
                                 "allowed")
        read_exact(f, view[8:8 + header_len], p, ModelFileError, at_end=False)
        try:
            header = json.loads(raw[8:8 + header_len])
            if not isinstance(header, dict):
                raise ValueError(f"the header is a {type(header).__name__}, not a mapping")
            meta = header.get("__metadata__") or {}
            if not isinstance(meta, dict):
                raise ValueError(f"metadata is a {type(meta).__name__}, not a mapping")
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise ModelFileError(f"{p} has a corrupted header: {str(e)[:200]}") from None
        if meta.get("format") != FORMAT:
            raise ModelFileError(f"{p} is a safetensors file but not a decepticons model "
                                 f"(format={meta.get('format')!r:.80})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(f"{p} uses model format version {meta.get('format_version')!r:.80}; "
                                 f"this version reads {FORMAT_VERSION!r}")
        if not all(isinstance(v, str) for v in meta.values()):
            raise ModelFileError(f"{p} has a corrupted header: metadata values must be strings")
        if meta.get("checksum") != metadata_checksum(meta):
            raise ModelFileError(f"{p} is corrupted: its metadata does not match the checksum stored in it")
        kind = meta.get("kind", "")
        if expected_kind is not None and kind != expected_kind:
            raise ModelFileError(f"{p} holds a {kind!r} model, not a {expected_kind!r} model")
        check_tensor_layout(header, size - 8 - header_len, p)
        read_exact(f, view[8 + header_len:], p, ModelFileError)
    start = 8 + header_len
    tensors = {}
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        dtype = np.dtype(NUMPY_DTYPES[info["dtype"]])
        count = math.prod(info["shape"])
        try:  # little-endian on disk; astype copies into an aligned, writable, native-order array
            flat = np.frombuffer(raw, dtype=dtype.newbyteorder("<"), count=count,
                                 offset=start + info["data_offsets"][0])
            tensors[name] = flat.astype(dtype).reshape(info["shape"])
        except ValueError as e:
            raise ModelFileError(f"{p} has a corrupted header: tensor {name!r}: {e}") from None
    del view, raw
    try:
        config = json.loads(meta["config"])
        extra = json.loads(meta.get("extra", "{}"))
    except (KeyError, ValueError, RecursionError) as e:
        raise ModelFileError(f"{p} is corrupted: its config or extra is not valid JSON ({str(e)[:200]})") from None
    fp = fingerprint(kind, config, tensors)
    if fp != meta.get("fingerprint"):
        raise ModelFileError(f"{p} is corrupted: its contents do not match the fingerprint stored in it")
    if "_empty" in tensors and tensors["_empty"].size == 0:
        del tensors["_empty"]
    return ModelFile(kind=kind, config=config, tensors=tensors, version=meta.get("version", "?"),
                     fingerprint=fp, extra=extra)


__all__ = ["FORMAT", "FORMAT_VERSION", "DTYPES", "ModelFile", "atomic_write_bytes", "check_tensor_layout",
           "fingerprint", "metadata_checksum", "read_model_file", "save_model_file"]

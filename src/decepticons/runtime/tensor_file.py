"""Bounded, checked reading of safetensors files into numpy arrays (never a memory map, never unbounded).

File layout (safetensors)::

    offset   size   content
    0        8      n = header length, little-endian u64
    8        n      JSON object: "__metadata__" -> {str: str}, and per tensor
                    name -> {"dtype": str, "shape": [int, ...], "data_offsets": [begin, end]}
    8 + n    D      data: tensor ``name`` is bytes ``[begin, end)`` of it, little-endian, C order

:func:`read_safetensors` checks, before any tensor is allocated:

* the path is a regular file (``/dev/zero`` or a FIFO is refused at once, by ``fstat`` on the open file);
* ``8 + n <= file size`` and ``n <= MAX_HEADER_BYTES``; the header is a JSON object (nesting too deep to
  parse is refused) whose metadata values are strings; then the caller's metadata check runs;
* the tensor table (:func:`check_tensor_layout`): at most ``MAX_TENSORS`` tensors, each with a dtype in
  :data:`NUMPY_DTYPES`, a shape of at most ``MAX_DIMS`` non-negative integers, and
  ``end - begin = prod(shape) * itemsize``; the ranges, sorted, tile ``[0, D)`` exactly (no gap, no
  overlap), with ``D = file size - 8 - n``, so the tensors together are as large as the file.

Only then are the ``D`` data bytes read by ``read()`` calls (a file shrinking meanwhile is a clear error,
not SIGBUS) and each tensor copied out as an aligned, writable, native-order array. Memory: the file's size
plus the tensors.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DecepticonsError, ModelFileError
from .files import open_regular_file, read_exact

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



def check_tensor_layout(header: dict[str, Any], data_bytes: int, p: Path,
                        error: type[DecepticonsError] = ModelFileError) -> None:
    """Refuse a safetensors header whose tensors do not exactly fill ``data_bytes`` (module docstring)."""
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    if len(entries) > MAX_TENSORS:
        raise error(f"{p} lists {len(entries):,} tensors, more than the {MAX_TENSORS:,} allowed")
    spans = []
    for name, info in entries:
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise error(f"{p} has a corrupted header: tensor {name!r} is not described by dtype, "
                                 "shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise error(f"{p}: tensor {name!r} has dtype {dtype!r}; allowed: {', '.join(DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > MAX_DIMS
                or not all(type(d) is int and 0 <= d < 1 << 48 for d in shape)):
            raise error(f"{p} has a corrupted header: tensor {name!r} has shape {shape!r:.80}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_bytes):
            raise error(f"{p} is truncated or corrupted: tensor {name!r} has data_offsets "
                                 f"{offsets!r:.80}, outside the {data_bytes:,} data bytes the file holds")
        if math.prod(shape) * DTYPES[dtype] != offsets[1] - offsets[0]:
            raise error(f"{p} has a corrupted header: tensor {name!r} of shape {shape} and dtype "
                                 f"{dtype} needs {math.prod(shape) * DTYPES[dtype]:,} bytes, its offsets "
                                 f"give {offsets[1] - offsets[0]:,}")
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise error(f"{p} has a corrupted header: tensor {name!r} starts at byte {begin:,} of the "
                                 f"data, where {end:,} was expected (a gap or an overlap)")
        end = stop
    if end != data_bytes:
        raise error(f"{p} is truncated or corrupted: its tensors need {end:,} bytes of data, the file "
                             f"holds {data_bytes:,}")


def read_safetensors(path: str | os.PathLike[str], validate_metadata: Callable[[dict[str, str]], None] | None = None,
                     error: type[DecepticonsError] = ModelFileError, what: str = "model file"
                     ) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """``(metadata, tensors)`` of a safetensors file, checked as the module docstring says.

    ``validate_metadata(meta)`` runs after the header parses and before the tensor table is checked or any
    data is read; it raises to refuse the file. Every refusal is ``error`` naming the file.
    """
    p = Path(path)
    with open_regular_file(p, error, what) as (f, size):
        if size < 8:
            raise error(f"{p} is not a safetensors {what} (only {size} bytes; truncated?)")
        raw = bytearray(size)
        view = memoryview(raw)
        read_exact(f, view[:8], p, error, at_end=False)
        header_len = int.from_bytes(raw[:8], "little")
        if header_len <= 0 or 8 + header_len > size:
            raise error(f"{p} is truncated or not a safetensors {what} "
                        f"(header says {header_len} bytes, file has {size})")
        if header_len > MAX_HEADER_BYTES:
            raise error(f"{p} has a {header_len:,}-byte header, more than the {MAX_HEADER_BYTES:,} allowed")
        read_exact(f, view[8:8 + header_len], p, error, at_end=False)
        try:
            header = json.loads(raw[8:8 + header_len])
            if not isinstance(header, dict):
                raise ValueError(f"the header is a {type(header).__name__}, not a mapping")
            meta = header.get("__metadata__") or {}
            if not isinstance(meta, dict):
                raise ValueError(f"metadata is a {type(meta).__name__}, not a mapping")
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise error(f"{p} has a corrupted header: {str(e)[:200]}") from None
        if not all(isinstance(v, str) for v in meta.values()):
            raise error(f"{p} has a corrupted header: metadata values must be strings")
        if validate_metadata is not None:
            validate_metadata(meta)
        check_tensor_layout(header, size - 8 - header_len, p, error)
        read_exact(f, view[8 + header_len:], p, error)
    start = 8 + header_len
    tensors = {}
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        dtype = np.dtype(NUMPY_DTYPES[info["dtype"]])
        try:  # little-endian on disk; astype copies into an aligned, writable, native-order array
            flat = np.frombuffer(raw, dtype=dtype.newbyteorder("<"), count=math.prod(info["shape"]),
                                 offset=start + info["data_offsets"][0])
            tensors[name] = flat.astype(dtype).reshape(info["shape"])
        except ValueError as e:
            raise error(f"{p} has a corrupted header: tensor {name!r}: {e}") from None
    del view, raw
    return meta, tensors


__all__ = ["MAX_HEADER_BYTES", "MAX_TENSORS", "MAX_DIMS", "NUMPY_DTYPES", "DTYPES", "check_tensor_layout",
           "read_safetensors"]

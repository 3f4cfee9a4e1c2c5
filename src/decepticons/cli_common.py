"""Command-line input handling shared by every subcommand (``decepticons`` and ``decepticons train``):
``--config KEY=VALUE`` overrides and ``--input`` files (``-`` reads standard input)."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from .data import check_corpus, read_corpus
from .errors import DecepticonsError, InputError

#: version of the ``--json`` output of every command (bumped when a key changes meaning or goes away); every
#: figure in it is in bits (bits per byte, total bits), never nats
JSON_SCHEMA_VERSION = 1


def emit(args: Any, payload: dict[str, Any], text: str) -> None:
    """Print a command's result: ``payload`` as JSON (with ``schema_version``) under ``--json``, else ``text``
    unless ``--quiet``."""
    if args.json:
        print(json.dumps({"schema_version": JSON_SCHEMA_VERSION, **payload}, indent=2, sort_keys=True))
    elif not args.quiet:
        print(text)


def parse_value(text: str) -> Any:
    """A JSON value (number, list, ``true``...), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["order=5", "lam=[0.1, 1]"]`` -> ``{"order": 5, "lam": [0.1, 1]}`` (JSON values, else strings)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DecepticonsError(f"--config expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = parse_value(value.strip())
    return out


def read_input(path: str | None, allow_binary: bool = True, name: str | None = None) -> np.ndarray:
    """The bytes of ``path`` as a checked ``uint8`` array (a memory map for files; ``-`` is standard input)."""
    if path is None:
        raise DecepticonsError("--input is required")
    if path == "-":
        data = np.frombuffer(sys.stdin.buffer.read(), dtype=np.uint8)
        return check_corpus(data, "standard input", allow_binary=allow_binary)
    return read_corpus(path, allow_binary=allow_binary, name=name)


def add_backend_argument(p: Any, what: str = "computes the model") -> None:
    """``--backend torch|mlx`` (:mod:`decepticons.backends`) on a subcommand's parser."""
    from .backends import BACKENDS, MLX_KINDS

    p.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0],
                   help=f"what {what}: torch (default; every model kind) or mlx ({', '.join(MLX_KINDS)})")


__all__ = ["add_backend_argument", "parse_overrides", "parse_value", "read_input"]


def check_save_path(path: str, inputs: dict[str, Any]) -> None:
    """``--save`` names a model file: not empty, not standard output, not one of the data inputs (saving over
    the ``--load`` file is allowed: the model is read whole first and the write is atomic)."""
    from .runtime.files import check_output_path

    if path == "-":
        raise InputError("--save needs a file name (a model file cannot go to standard output)")
    check_output_path(path, "--save", inputs)

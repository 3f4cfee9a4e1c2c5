"""``decepticons compare``: two or more saved models on the same bytes, and where each one wins.

For models ``A, B, ...`` scored on ``x: uint8[T]`` (per-byte bits ``b_A[t] = -log2 p_A(x[t] | x[:t])``)::

    bits/byte_A = mean_t b_A[t]
    wins_A      = #{t : b_A[t] < min_{M != A} b_M[t]} / T      (ties count for nobody)

``--html OUT`` writes the self-contained page of :mod:`decepticons.runtime.html_report` (with two models, each
byte coloured by ``b_A[t] - b_B[t]``).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .cli_common import read_input
from .errors import InputError


def add_html_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML page of the per-byte bits")
    p.add_argument("--html-bytes", type=int, default=1 << 20, metavar="N",
                   help="show at most the first N bytes in the page (default 1048576)")


def html_slice(args: argparse.Namespace, data: np.ndarray) -> np.ndarray:
    from .runtime.html_report import MAX_BYTES

    if not 1 <= args.html_bytes <= MAX_BYTES:
        raise InputError(f"--html-bytes must be in 1..{MAX_BYTES}, got {args.html_bytes}")
    return np.asarray(data)[:args.html_bytes]


def cmd_compare(args: argparse.Namespace, emit: Any) -> int:
    from .registry import load_model
    from .runtime.files import check_output_path
    from .runtime.html_report import byte_records, render_html, write_output

    loads = args.load or []
    if len(loads) < 2:
        raise InputError("compare needs at least two models: --load A --load B")
    inputs = {"--input": args.input, **{f"--load {i + 1}": p for i, p in enumerate(loads)}}
    if args.html is not None:
        check_output_path(args.html, "--html", inputs)
        html_slice(args, np.zeros(1, np.uint8))
    names = args.name or [f"{i + 1}:{p}" for i, p in enumerate(loads)]
    if len(names) != len(loads):
        raise InputError(f"give one --name per --load ({len(loads)}), got {len(names)}")
    models = [load_model(p) for p in loads]
    data = np.asarray(read_input(args.input))
    recs = [byte_records(m, data, name=n) for m, n in zip(models, names)]
    bits = np.stack([r.bits.astype(np.float64) for r in recs])
    best = bits.min(axis=0)
    rows = []
    for i, r in enumerate(recs):
        others = np.delete(bits, i, axis=0).min(axis=0)
        rows.append({"name": r.name, "model": models[i].name, "bits_per_byte": float(bits[i].mean()),
                     "total_bits": float(bits[i].sum()), "wins": float(np.mean(bits[i] < others)),
                     "bits_over_best": float((bits[i] - best).mean())})
    if args.html is not None:
        n = len(html_slice(args, data))
        cut = [type(r)(r.name, r.bits[:n], r.entropy[:n], r.top_ids[:n], r.top_probs[:n]) for r in recs]
        write_output(args.html, render_html(data[:n], cut, title=" vs ".join(names)).encode("utf-8"), "--html")
    text = [f"{len(data):,} bytes of {args.input}", f"{'model':40s} {'bits/byte':>10s} {'wins':>7s}"]
    text += [f"{r['name'][:40]:40s} {r['bits_per_byte']:10.4f} {100 * r['wins']:6.1f}%" for r in rows]
    emit(args, {"bytes": int(len(data)), "input": args.input, "models": rows},
         "\n".join(text))
    return 0


def add_compare_parser(sub: Any, common: argparse.ArgumentParser, emit: Any) -> None:
    p = sub.add_parser("compare", parents=[common], help="score two or more saved models on one file",
                       description="Score saved models on the same file: bits/byte, where each one wins, "
                                   "and optionally an HTML page of the per-byte difference.",
                       epilog="example: decepticons compare --load a.safetensors --load b.safetensors "
                              "--input valid.txt --html diff.html")
    p.add_argument("--load", action="append", help="saved model file (give two or more)")
    p.add_argument("--name", action="append", help="display name of each --load, in order")
    p.add_argument("--input", required=True, help="file to score")
    add_html_arguments(p)
    p.set_defaults(func=lambda args: cmd_compare(args, emit))

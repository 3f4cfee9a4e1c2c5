"""``decepticons bench``: every model and the classic compressors on one corpus (see :mod:`decepticons.bench`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from .errors import InputError


def add_bench_parser(sub: Any) -> None:
    """Register ``bench`` on the ``sub`` parsers."""
    p = sub.add_parser("bench", help="every model and the classic compressors on one corpus, static and adaptive",
                       description="Fit each model on a corpus's train split and score its valid split frozen "
                                   "(static) and learning while it scores (adaptive), write a real compressed file, "
                                   "and set gzip, bzip2, xz (and zstd, brotli, PPMd, paq8px, zpaq when present) "
                                   "beside them.",
                       epilog="examples: decepticons bench --quick; decepticons bench --corpus shakespeare "
                              "--markdown bench.md --json bench.json --plot bench.png; "
                              "decepticons bench --models ngram,mixer --train a.txt --valid b.txt")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", metavar="OUT", help="write the versioned JSON report to OUT ('-': standard output)")
    p.add_argument("--markdown", metavar="OUT", help="write the Markdown table to OUT (default: standard output)")
    p.add_argument("--plot", metavar="OUT", help="write bits/byte vs model bytes to OUT (PNG, needs matplotlib)")
    p.add_argument("--quick", action="store_true",
                   help="minutes on the demo corpus: tiny torch variants, --steps optimizer steps")
    p.add_argument("--corpus", help="a named corpus of decepticons data (default: demo with --quick, else shakespeare)")
    p.add_argument("--train", help="train split file (with --valid, instead of --corpus)")
    p.add_argument("--valid", help="valid split file (with --train)")
    p.add_argument("--models", help="comma-separated model kinds (default: every registered causal model)")
    p.add_argument("--compressors", help="comma-separated compressors (default: all found; 'none': no compressor)")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps of torch models under --quick (default 100)")
    p.add_argument("--compress", choices=("fast", "all", "none"), default="fast",
                   help="write a compressed file: fast = every non-torch model (default), all, none")
    from .cli_common import add_backend_argument

    add_backend_argument(p, "computes the gradient-trained models that have an MLX implementation (trains and "
                            "scores them)")
    p.set_defaults(func=cmd_bench)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",") if s.strip()]


def _data(args: argparse.Namespace) -> tuple[Any, Any, str]:
    from .cli_common import read_input
    from .data import corpus_files

    if (args.train is None) != (args.valid is None):
        raise InputError("--train and --valid go together")
    if args.train is not None:
        if args.corpus:
            raise InputError("give --corpus or --train/--valid, not both")
        return read_input(args.train), read_input(args.valid), f"files {os.path.basename(args.train)} / " \
            f"{os.path.basename(args.valid)}"
    name = args.corpus or ("demo" if args.quick else "shakespeare")
    paths = corpus_files(name)
    return read_input(str(paths["train"])), read_input(str(paths["valid"])), f"corpus {name}"


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import BenchConfig, run_bench
    from .bench.report import markdown_table, payload, plot
    from .cli_common import emit
    from .registry import available_models

    if not 1 <= args.steps <= 1_000_000:
        raise InputError(f"--steps must be an integer in 1..1000000, got {args.steps}")
    models = _split(args.models)
    known = available_models()
    if models is None:
        models = known
    bad = [m for m in models if m not in known]
    if bad:
        raise InputError(f"unknown model(s) {', '.join(bad)}; known: {', '.join(known)}")
    from .backends import check_backend

    check_backend(args.backend)
    comps = _split(args.compressors)
    if comps == ["none"]:
        comps = []
    train, valid, source = _data(args)
    cfg = BenchConfig(models=models, compressors=comps, quick=args.quick, steps=args.steps, compress=args.compress,
                      seed=args.seed, backend=args.backend)
    if not args.quiet:
        print(f"bench: {len(models)} model(s) on {source} (train {len(train):,} B, valid {len(valid):,} B)",
              file=sys.stderr)
    rows, notes = run_bench(train, valid, cfg, log=None if args.quiet else lambda line: print(line, file=sys.stderr))
    table = markdown_table(rows, notes)
    facts = {"source": source, "train_bytes": len(train), "valid_bytes": len(valid), "quick": args.quick,
             "steps": args.steps if args.quick else None, "compress": args.compress, "seed": args.seed}
    if args.json:
        out = payload(rows, notes, facts)
        ns = argparse.Namespace(json=True, quiet=False)
        if args.json == "-":
            emit(ns, out, "")
        else:
            with open(args.json, "w") as f, contextlib.redirect_stdout(f):
                emit(ns, out, "")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    elif args.json != "-":
        print(table, end="")
    if args.plot and not plot(rows, args.plot, f"decepticons bench: {source}"):
        print("bench: --plot needs matplotlib (pip install matplotlib); no plot written", file=sys.stderr)
    return 0

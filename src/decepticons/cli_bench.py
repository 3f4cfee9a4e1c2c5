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
    p.add_argument("--plot", metavar="OUT", help="write bits/byte vs model bytes to OUT, bits/byte vs wall time to "
                                                 "OUT-time.png and torch tokens/s vs sequence length to "
                                                 "OUT-seqlen.png (PNG, needs matplotlib)")
    p.add_argument("--quick", action="store_true",
                   help="minutes on the demo corpus: tiny torch variants, --steps optimizer steps")
    p.add_argument("--corpus", help="a named corpus of decepticons data (default: demo with --quick, else shakespeare)")
    p.add_argument("--train", help="train split file (with --valid, instead of --corpus)")
    p.add_argument("--valid", help="valid split file (with --train)")
    p.add_argument("--models", help="comma-separated model kinds (default: every registered causal model)")
    p.add_argument("--compressors", help="comma-separated compressors (default: all found; 'none': no compressor)")
    p.add_argument("--steps", type=int, default=None,
                   help="optimizer steps of every torch model: the stated training budget (default 100 with "
                        "--quick, else 1000)")
    p.add_argument("--seq-lens", default=None,
                   help="comma-separated sequence lengths of the torch models' forward tokens/s (default "
                        "128,512 with --quick, else 256,1024,4096,16384)")
    p.add_argument("--compress", choices=("fast", "all", "none"), default="fast",
                   help="write a compressed file: fast = every non-torch model (default), all, none")
    from .cli_common import add_backend_argument

    add_backend_argument(p, "computes the gradient-trained models that have an MLX implementation (trains and "
                            "scores them)")
    p.set_defaults(func=cmd_bench)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",") if s.strip()]


def _lengths(text: str | None, default: list[int]) -> list[int]:
    if text is None:
        return default
    try:
        lens = [int(s) for s in _split(text) or []]
    except ValueError:
        raise InputError(f"--seq-lens must be comma-separated integers, got {text!r:.60}") from None
    if not lens or any(not 1 <= n <= 1 << 20 for n in lens):
        raise InputError(f"--seq-lens must list lengths in 1..{1 << 20}, got {text!r:.60}")
    return sorted(set(lens))


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

    if args.steps is None:
        args.steps = 100 if args.quick else 1000
    if not 1 <= args.steps <= 1_000_000:
        raise InputError(f"--steps must be an integer in 1..1000000, got {args.steps}")
    seq_lens = _lengths(args.seq_lens, [128, 512] if args.quick else [256, 1024, 4096, 16384])
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
                      seed=args.seed, seq_lens=seq_lens, backend=args.backend)
    if not args.quiet:
        print(f"bench: {len(models)} model(s) on {source} (train {len(train):,} B, valid {len(valid):,} B)",
              file=sys.stderr)
    rows, notes = run_bench(train, valid, cfg, log=None if args.quiet else lambda line: print(line, file=sys.stderr))
    table = markdown_table(rows, notes)
    facts = {"source": source, "train_bytes": len(train), "valid_bytes": len(valid), "quick": args.quick,
             "steps": args.steps, "seq_lens": seq_lens, "compress": args.compress, "seed": args.seed}
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
    if args.plot and plot(rows, args.plot, f"decepticons bench: {source}") is None:
        print("bench: --plot needs matplotlib (pip install matplotlib); no plot written", file=sys.stderr)
    return 0

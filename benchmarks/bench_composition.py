"""Composition: the context mixer alone, with the default coder, with a trained causal bank, with both.

Every row fits ``MixerPredictor(experts=...)`` on the training bytes and scores the held-out bytes
prequentially (as the mixer scores: it keeps learning from the bytes already scored), in a fresh child
process. The coder is fitted by the mixer forward out of fold (the second half of train predicted by a copy
fitted on the first half, then the coder refitted on all of train); the bank is
a fixed expert (trained beforehand by ``decepticons train --model causal-bank``, on the same training bytes),
so it takes no part in the mixer's fit and its weights learn while scoring. Each row also writes the real
``decepticons.coding.compress`` file of the held-out bytes (the coder reads the experts' streams) and compares
its size with the scored figure, and checks a compress/decompress round trip on a prefix.

    python benchmarks/bench_composition.py --bank bank.safetensors \
        [--train T --valid V] [--train-bytes N --valid-bytes M] [--rows mixer,coder,bank,both]
        [--roundtrip-bytes K] [--results FILE] [--report-only]

Without ``--train/--valid`` the Shakespeare split of ``decepticons.data.shakespeare()``. ``--results`` keeps
the rows measured so far (runs can be split and resumed). Writes section ``composition`` of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, machine, write_section  # noqa: E402

#: name -> (what, experts: "coder" / "bank" in order, extra mixer options)
ROWS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "mixer": ("mixer alone", (), {}),
    "coder": ("mixer + coder", ("coder",), {}),
    "bank": ("mixer + causal bank", ("bank",), {}),
    "both": ("mixer + coder + causal bank", ("coder", "bank"), {}),
    "coder-in-sample": ("mixer + coder fitted in-sample (`expert_folds=1`)", ("coder",), {"expert_folds": 1}),
}
DEFAULT_ROWS = ("mixer", "coder", "bank", "both")


def _data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    from decepticons.data import read_corpus, shakespeare

    paths = shakespeare() if args.train is None or args.valid is None else {"train": args.train,
                                                                            "valid": args.valid}
    tr = np.asarray(read_corpus(paths["train"]))[:args.train_bytes]
    va = np.asarray(read_corpus(paths["valid"]))[:args.valid_bytes]
    return tr, va


def child(name: str, args: argparse.Namespace) -> dict:
    """Measure one row in this process (fit, score, compress, round trip); returns its figures."""
    import torch

    from decepticons.coding import compress, decompress
    from decepticons.registry import load_model, model_class

    torch.set_num_threads(1)
    tr, va = _data(args)
    _, kinds, extra = ROWS[name]
    experts, fixed = [], []
    for kind in kinds:
        if kind == "coder":
            experts.append(model_class("coder")())
        else:
            fixed.append(len(experts))
            experts.append(load_model(args.bank))
    m = model_class("mixer")(experts=experts, fixed_experts=fixed, **extra)
    t0 = time.perf_counter()
    fit = m.fit(tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = m.score(va)
    score_s = time.perf_counter() - t0
    out = {"valid_bpb": s.bits_per_byte, "scored_bytes": s.total_bits / 8, "fit_kbs": len(tr) / fit_s / 1e3,
           "fit_s": fit_s, "score_kbs": len(va) / score_s / 1e3, "train_bytes": len(tr), "valid_bytes": len(va),
           "plans": m.expert_plans(len(tr)), "experts_alone": {}}
    folds = [f for e in fit.details["experts"] for f in e.get("folds", [])]
    out["fold_fit_s"] = sum(f["fit_seconds"] + f["predict_seconds"] for f in folds)
    for kind, e in zip(kinds, experts):
        out["experts_alone"][kind] = e.score(va).bits_per_byte
    if not args.no_compress:
        t0 = time.perf_counter()
        blob = compress(m, va)
        out["compress_kbs"] = len(va) / (time.perf_counter() - t0) / 1e3
        out["file_bytes"] = len(blob)
        n = min(args.roundtrip_bytes, len(va))
        small = compress(m, va[:n])
        t0 = time.perf_counter()
        back = decompress(m, small)
        out["decompress_kbs"] = n / (time.perf_counter() - t0) / 1e3
        out["roundtrip_bytes"] = n
        out["roundtrip_ok"] = bool(np.array_equal(back, va[:n]))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def measure(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--train-bytes", str(args.train_bytes),
           "--valid-bytes", str(args.valid_bytes), "--roundtrip-bytes", str(args.roundtrip_bytes)]
    for flag in ("train", "valid", "bank"):
        if getattr(args, flag) is not None:
            cmd += [f"--{flag}", str(getattr(args, flag))]
    if args.no_compress:
        cmd.append("--no-compress")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"row {name} failed:\n{r.stderr}")
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "commit": git_rev()}


def _cell(r: dict, key: str, fmt: str) -> str:
    return format(r[key], fmt) if key in r else "not measured"


def report(results: dict, args: argparse.Namespace, not_measured: dict[str, str]) -> str:
    any_row = next(iter(results.values()))
    data = "the Shakespeare split (`decepticons.data.shakespeare()`)" if args.train is None else \
        "`--train` / `--valid`"
    cmd = "python benchmarks/bench_composition.py --bank BANK"
    if args.train_bytes < 1 << 60 or args.valid_bytes < 1 << 60:
        cmd += f" --train-bytes {any_row['train_bytes']} --valid-bytes {any_row['valid_bytes']}"
    md = [
        "## Composition: the mixer with experts",
        "",
        f"Command: `{cmd}` (BANK: a causal bank trained by the README's recipe, `decepticons train --model "
        "causal-bank --input train.txt --valid valid.txt --tokens 24M`, see the recipe section), rows measured at "
        f"commit {', '.join(f'`{c}`' for c in sorted({r.get('commit', '?') for r in results.values()}))}. "
        f"Data: {data}, train {any_row['train_bytes']:,} bytes, valid {any_row['valid_bytes']:,} "
        f"bytes. Machine: {machine()}; torch on one thread. One fresh process per row, one run each "
        "(throughputs on a shared machine are indicative).",
        "",
        "What is fitted on what: the mixer's base (n-gram orders, word, document and match inputs) learns on "
        "train, prequentially. The coder is fitted by the mixer **forward, out of fold** (`expert_folds=2`): the "
        "second half of train is predicted by a coder fitted on the first half, so the expert stage learns how far "
        "to trust it on bytes that coder has not seen, next to a base that has seen the same past (the coder takes "
        "no part in the first half); then the coder is refitted on all of train for scoring (cost: one half-size "
        "coder fit and one pass predicting half of train, on top of the final fit). The bank is a **fixed** "
        "expert: trained beforehand on train (so its predictions there are in-sample), it takes no part in the "
        "mixer's fit and its weights start at zero and learn on valid while scoring. Every expert's weight starts "
        "at 0 and the base's at 1 (trust the base); each expert's weight is chosen by its agreement with the base "
        "and the top-1 mass of both (`expert_context=\"confidence\"`).",
        "",
        "| configuration | valid bits/byte | vs mixer alone | experts alone | compress file | file vs scored "
        "| round trip | fit KB/s | score KB/s | compress KB/s | decompress KB/s | peak RSS |",
        "|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    base = results.get("mixer")
    for name in ROWS:
        what = ROWS[name][0]
        if name not in results:
            if name in not_measured:
                md.append(f"| {what} | not measured ({not_measured[name]}) |  |  |  |  |  |  |  |  |  |  |")
            continue
        r = results[name]
        delta = f"{r['valid_bpb'] - base['valid_bpb']:+.4f}" if base and name != "mixer" else ""
        alone = ", ".join(f"{k} {v:.4f}" for k, v in r["experts_alone"].items())
        if "file_bytes" in r:
            file_cell = f"{r['file_bytes']:,} B ({8 * r['file_bytes'] / r['valid_bytes']:.4f} bits/byte)"
            vs = f"{100 * (r['file_bytes'] / r['scored_bytes'] - 1):+.3f}%"
            rt = f"{'yes' if r['roundtrip_ok'] else 'NO'} (first {r['roundtrip_bytes']:,} bytes)"
        else:
            file_cell = vs = rt = "not measured"
        md.append(f"| {what} | **{r['valid_bpb']:.4f}** | {delta} | {alone} | {file_cell} | {vs} | {rt} "
                  f"| {r['fit_kbs']:.1f} | {r['score_kbs']:.1f} | {_cell(r, 'compress_kbs', '.2f')} "
                  f"| {_cell(r, 'decompress_kbs', '.2f')} | {r['peak_mb']:,.0f} MB |")
    md += ["", "*file vs scored*: size of the real `compress` file (header included) against the scored code "
           "length `sum -log2 p / 8`. `compress` reads each expert through its stream (an expert's batched rows "
           "may differ from its stream's in the last bits, and the range coder needs bit-identical frequencies "
           "on both sides), so it runs at the experts' stream speed; the figure scored reads the batched rows."]
    skipped = [ROWS[n][0] for n, r in results.items() if "compress_kbs" not in r]
    if skipped:
        slowest = min((r["compress_kbs"] for r in results.values() if r.get("compress_kbs")), default=None)
        md += ["", f"No compress file for {', '.join(skipped)} (run with `--no-compress`): with a torch expert "
               "the stream path codes a byte per torch step"
               + (f" (the slowest row above: {slowest:.2f} KB/s)" if slowest else "")
               + ", so its file was not written here; the rows with files show the file within 0.1% of the "
               "scored figure."]
    folds = {n: r["fold_fit_s"] for n, r in results.items() if r.get("fold_fit_s")}
    if folds:
        md += ["", "Out-of-fold cost inside the fit time: " + "; ".join(
            f"{ROWS[n][0]}: {s:.0f} s of {results[n]['fit_s']:.0f} s" for n, s in folds.items()) + "."]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--bank", help="model file of a causal bank trained by `decepticons train --model causal-bank`")
    ap.add_argument("--train-bytes", type=int, default=1 << 60, help="use only the first N training bytes")
    ap.add_argument("--valid-bytes", type=int, default=1 << 60, help="use only the first N held-out bytes")
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    ap.add_argument("--roundtrip-bytes", type=int, default=16384, help="compress/decompress check on a prefix")
    ap.add_argument("--no-compress", action="store_true", help="skip the compress file and the round trip")
    ap.add_argument("--results", help="JSON file of rows measured so far (read, then updated)")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {list(ROWS)}")
    results: dict = {}
    if args.results and Path(args.results).exists():
        results = json.loads(Path(args.results).read_text())
    not_measured = {}
    for name in rows:
        if name in results or args.report_only:
            continue
        if "bank" in ROWS[name][1] and args.bank is None:
            not_measured[name] = "no `--bank` model file given"
            continue
        print(f"measuring {name} ...", flush=True)
        results[name] = measure(name, args)
        print(json.dumps(results[name]), flush=True)
        if args.results:
            Path(args.results).write_text(json.dumps(results, indent=1))
    for name in DEFAULT_ROWS:
        if name not in results and name not in not_measured:
            not_measured[name] = "not run"
    if not results:
        raise SystemExit("nothing measured")
    md = report(results, args, not_measured)
    if args.no_write:
        print(md)
    else:
        write_section("composition", md)
        print(md)


if __name__ == "__main__":
    main()

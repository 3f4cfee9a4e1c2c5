"""Does depth pay? A trained ``mythos`` model at 1, 2, 4, 8 and 16 loops, its halting by byte difficulty, and
the same model at a fixed depth of ACT's average compute (section ``mythos-depth`` of docs/experiments.md).

Phases (one run folder each):

* ``train``: the kernel trainer with a budget in optimizer steps (``--steps``: the same curve whatever the
  host's load), or in seconds (``--seconds``); ``--config KEY=VALUE`` overrides the byte defaults.
* ``score``: on the held-out bytes (the whole valid split, or its first ``--valid-bytes``):

  - bits/byte at every loop count of ``--loops`` (default 1, 2, 4, 8, 16), ACT off;
  - the ponder cost chosen on held-in bytes (the tail of the training split, never valid) by
    :meth:`MythosPredictor.calibrate_halting` (the model with that cost is saved as
    ``mythos_calibrated.safetensors``: ``decepticons score --load`` of it gives the user's figure), then ACT
    on: bits/byte, mean depth;
  - the depth histogram by byte difficulty: quartiles of a reference's per-byte bits (the same model at full
    depth), with each quartile's mean ACT depth and its share of bytes at each depth;
  - the fixed-depth comparison: the model with every byte at ``floor(a)`` and ``ceil(a)`` loops for ACT's mean
    depth ``a``, interpolated linearly to ``a`` (the bits/byte of spending ACT's compute uniformly).

* ``markdown``: the section from every scored run folder given by ``--runs`` (no measuring).
* ``all``: ``train``, ``score`` and ``markdown`` of the one run folder ``--run-dir``.

Every run (command, configuration, result) is appended to ``docs/figures/mythos_depth_runs.json``::

    python benchmarks/bench_mythos_depth.py --phase train --steps 400 --run-dir RUN --config d_model=128
    python benchmarks/bench_mythos_depth.py --phase score --run-dir RUN --valid-bytes 65536
    python benchmarks/bench_mythos_depth.py --phase markdown --runs RUN1 RUN2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402

LN2 = math.log(2.0)
ROOT = Path(__file__).resolve().parent.parent
RUNS_LOG = ROOT / "docs" / "figures" / "mythos_depth_runs.json"
#: held-in bytes for the ponder-cost choice (tail of the training split) and the ACT gap allowed there
CALIBRATION_BYTES, CALIBRATION_GAP = 65536, 0.0075


def load_split(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    from decepticons.data import read_corpus, shakespeare

    if args.train and args.valid:
        tr, va = args.train, args.valid
    else:
        sp = shakespeare()
        tr, va = sp["train"], sp["valid"]
    return np.asarray(read_corpus(tr)), np.asarray(read_corpus(va))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (numbers, booleans), else as strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def log_run(entry: dict[str, Any], path: Path = RUNS_LOG) -> None:
    """Append ``entry`` to the runs log ``path`` (a JSON list), atomically."""
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append(entry)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(runs, indent=1, default=str) + "\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------- training
def train_phase(args: argparse.Namespace) -> None:
    from decepticons.training import TrainConfig, train
    from plato_mythos.predictor import MythosPredictor

    torch.set_num_threads(args.threads)
    tr, va = load_split(args)
    overrides = parse_overrides(args.config)
    p = MythosPredictor(seed=args.seed, **overrides)
    cfg = TrainConfig(batch_size=args.batch, seq_len=256, lr=args.lr, max_steps=args.steps or None,
                      budget_seconds=args.seconds or None, eval_every=0, eval_bytes=args.train_eval_bytes,
                      checkpoint_seconds=None, seed=args.seed, log_every=20, plot=False)
    t0, cpu0 = time.perf_counter(), time.process_time()
    res = train(p, tr, va[:args.train_eval_bytes] if args.train_eval_bytes else va, cfg, run_dir=args.run_dir)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    run = Path(args.run_dir)
    p.save(run / "mythos.safetensors")
    info = {k: v for k, v in res.to_dict().items() if k != "curve"}
    info.update({"overrides": overrides, "wall_seconds": wall, "cpu_seconds": cpu, "threads": args.threads,
                 "batch": args.batch, "lr": args.lr, "seed": args.seed, "budget_steps": args.steps,
                 "budget_seconds": args.seconds, "command": command_line(), "commit": git_rev()})
    (run / "train_result.json").write_text(json.dumps(info, default=str, indent=1))
    print(json.dumps(info, default=str, indent=1))


# ---------------------------------------------------------------------------------------------- scoring
def per_byte_bits(p: Any, data: np.ndarray, loops: int, act: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bits of every byte and the loops it ran, at ``loops`` loops with ACT on or off."""
    p.eval_loops, p.eval_act, p.depth_trace = loops, act, []
    try:
        bits = -p.target_log_probs(data, progress=False) / LN2
        depth = np.concatenate(p.depth_trace)
    finally:
        p.eval_loops, p.eval_act, p.depth_trace = None, None, None
    return bits, depth


def quartiles(reference_bits: np.ndarray) -> list[np.ndarray]:
    """Indices of the bytes in each quarter of ``reference_bits``, easiest first (stable ties)."""
    order = np.argsort(reference_bits, kind="stable")
    return [order[q * len(order) // 4:(q + 1) * len(order) // 4] for q in range(4)]


def depth_report(bits_full: np.ndarray, bits_act: np.ndarray, depth: np.ndarray, max_depth: int) -> list[dict]:
    """Per quarter of byte difficulty (by ``bits_full``): mean ACT depth, bits/byte at full depth and with
    ACT, and the share of its bytes that halted after each loop ``1 .. max_depth``."""
    rows = []
    for q, idx in enumerate(quartiles(bits_full)):
        d = depth[idx]
        hist = np.bincount(d, minlength=max_depth + 1)[1:max_depth + 1] / max(len(d), 1)
        rows.append({"quarter": q + 1, "bytes": int(len(idx)), "mean_depth": float(d.mean()),
                     "full_bpb": float(bits_full[idx].mean()), "act_bpb": float(bits_act[idx].mean()),
                     "depth_share": [float(x) for x in hist]})
    return rows


def score_phase(args: argparse.Namespace) -> None:
    from plato_mythos.predictor import MythosPredictor

    torch.set_num_threads(args.threads)
    tr, va = load_split(args)
    if args.valid_bytes:
        va = va[:args.valid_bytes]
    run = Path(args.run_dir)
    p = MythosPredictor.load(run / "mythos.safetensors")
    L = int(p.config.max_loop_depth)
    loops = sorted(set(args.loops) | {L})
    t0 = time.perf_counter()
    table: dict[int, float] = {}
    full_bits = None
    for n in loops:
        bits, _ = per_byte_bits(p, va, n, False)
        table[n] = float(bits.mean())
        if n == L:
            full_bits = bits
        print(f"loops {n}: {table[n]:.4f}", flush=True)
    assert full_bits is not None
    cal = p.calibrate_halting(tr[-CALIBRATION_BYTES:], max_relative_gap=CALIBRATION_GAP)
    # with the chosen ponder cost saved: what `decepticons score --load` of this file reports is ACT at that cost
    p.save(run / "mythos_calibrated.safetensors")
    act_bits, depth = per_byte_bits(p, va, L, True)
    mean_depth = float(depth.mean())
    lo, hi = max(1, int(math.floor(mean_depth))), min(L, int(math.ceil(mean_depth)))
    fixed = {}
    for n in sorted({lo, hi}):
        fixed[n] = table[n] if n in table else float(per_byte_bits(p, va, n, False)[0].mean())
    w = 0.0 if hi == lo else (mean_depth - lo) / (hi - lo)
    fixed_bpb = (1 - w) * fixed[lo] + w * fixed[hi]
    out = {
        "valid_bytes": int(len(va)), "max_loop_depth": L, "loops": {str(k): v for k, v in table.items()},
        "calibration": {"bytes": CALIBRATION_BYTES, "gap_allowed": CALIBRATION_GAP, **cal},
        "act_bpb": float(act_bits.mean()), "act_mean_depth": mean_depth,
        "act_gap": float(act_bits.mean() / table[L] - 1.0),
        "quarters": depth_report(full_bits, act_bits, depth, L),
        "fixed_depth": {"loops": {str(k): v for k, v in fixed.items()}, "interpolated_bpb": float(fixed_bpb),
                        "at_mean_depth": mean_depth},
        "score_seconds": time.perf_counter() - t0, "parameters": p.num_parameters(),
        "command": command_line(), "commit": git_rev(),
    }
    (run / "depth_report.json").write_text(json.dumps(out, indent=1, default=str))
    train_info = json.loads((run / "train_result.json").read_text()) if (run / "train_result.json").exists() else {}
    log_run({"run": run.name, "train": train_info, "score": out}, Path(args.runs_log))
    print(json.dumps(out, indent=1, default=str))


# ---------------------------------------------------------------------------------------------- markdown
def targets(s: dict[str, Any]) -> list[str]:
    """The depth targets of the issue, each with its measured figure."""
    lp = {int(k): v for k, v in s["loops"].items()}
    L = s["max_loop_depth"]
    q = s["quarters"]
    out = []
    if 1 in lp and 8 in lp:
        gain = 1 - lp[8] / lp[1]
        out.append(f"8 loops better than 1 by >= 3%: {100 * gain:.2f}% -> {'met' if gain >= 0.03 else 'not met'}")
    if 8 in lp and 16 in lp:
        worse = lp[16] / lp[8] - 1
        verdict = "met" if worse <= 0.005 else "not met"
        out.append(f"16 loops no worse than 8 by > 0.5%: {100 * worse:+.2f}% -> {verdict}")
    saving = 1 - q[0]["mean_depth"] / L
    gap = s["act_gap"]
    ok = saving >= 0.40 and gap <= 0.01
    out.append(f"ACT saves >= 40% of depth on the easiest quarter within 1% of full depth: saving {100 * saving:.0f}%, "
               f"gap {100 * gap:+.2f}% -> {'met' if ok else 'not met'}")
    harder = q[3]["mean_depth"] > q[0]["mean_depth"]
    out.append(f"hardest quarter deeper than the easiest: {q[3]['mean_depth']:.2f} vs {q[0]['mean_depth']:.2f} loops "
               f"-> {'met' if harder else 'not met'}")
    fx = s["fixed_depth"]["interpolated_bpb"]
    out.append(f"adaptive vs uniform depth at the same mean compute ({s['act_mean_depth']:.2f} loops): ACT "
               f"{s['act_bpb']:.4f} vs fixed {fx:.4f} bits/byte ({100 * (s['act_bpb'] / fx - 1):+.2f}%)")
    return out


def run_section(run: Path) -> list[str]:
    s = json.loads((run / "depth_report.json").read_text())
    t = json.loads((run / "train_result.json").read_text())
    L = s["max_loop_depth"]
    lp = {int(k): v for k, v in s["loops"].items()}
    ov = shape(t)
    budget = f"{t.get('budget_steps')} steps" if t.get("budget_steps") else f"{t.get('budget_seconds')} s"
    lines = [f"### {run.name}: {ov}", "",
             f"Budget {budget} (batch {t.get('batch')} x 256, lr {t.get('lr')}, seed {t.get('seed')}, "
             f"{t.get('threads')} thread(s)): {t.get('steps')} steps, {t.get('tokens')} tokens, "
             f"{t.get('wall_seconds', 0):.0f} s wall / {t.get('cpu_seconds', 0):.0f} s CPU on a shared host; "
             f"{s['parameters']:,} parameters; scored on {s['valid_bytes']:,} held-out bytes (first bytes of "
             f"valid; windows of 256, stride 128).", "",
             f"Train: `{t.get('command')}`; score: `{s.get('command')}`.", "",
             "| loops | " + " | ".join(str(n) for n in sorted(lp)) + " | ACT |",
             "|---|" + "---:|" * (len(lp) + 1),
             "| bits/byte | " + " | ".join(f"{lp[n]:.4f}" for n in sorted(lp)) + f" | {s['act_bpb']:.4f} |",
             "| vs 1 loop | " + " | ".join(f"{100 * (lp[n] / lp[min(lp)] - 1):+.2f}%" for n in sorted(lp))
             + f" | {100 * (s['act_bpb'] / lp[min(lp)] - 1):+.2f}% |", ""]
    cal = s["calibration"]
    smallest = min(r["cost"] for r in cal["table"])
    chosen = f"{cal['chosen']:g}" if cal["chosen"] is not None else f"none qualified (set {smallest:g})"
    lines += [f"Ponder cost chosen on the last {cal['bytes']:,} bytes of the training split (largest cost whose "
              f"ACT gap there is <= {100 * cal['gap_allowed']:.2f}%): {chosen}.", "",
              "| quarter by full-depth bits (easiest first) | full-depth bpb | ACT bpb | mean ACT depth | "
              + " | ".join(f"halted at {i}" for i in range(1, L + 1)) + " |",
              "|---|---:|---:|---:|" + "---:|" * L]
    for r in s["quarters"]:
        lines.append(f"| Q{r['quarter']} | {r['full_bpb']:.4f} | {r['act_bpb']:.4f} | {r['mean_depth']:.2f} | "
                     + " | ".join(f"{100 * x:.0f}%" for x in r["depth_share"]) + " |")
    lines += [""] + [f"- {x}" for x in targets(s)] + [""]
    return lines


def shape(t: dict[str, Any]) -> str:
    """The run's overrides, or the byte defaults of the commit it was trained at."""
    ov = ", ".join(f"{k}={v}" for k, v in t.get("overrides", {}).items())
    base = f"byte defaults of commit {t.get('commit')}"
    return f"{base} with {ov}" if ov else base


def summary_table(runs: list[Path]) -> list[str]:
    """One row per run: shape, budget, cost and bits/byte at 1 loop, full depth, the deepest count and ACT."""
    rows = ["| run | configuration | parameters | steps | tokens | CPU s | 1 loop | full depth "
            "| deepest | ACT (mean loops) | fixed depth at ACT's mean |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        s = json.loads((run / "depth_report.json").read_text())
        t = json.loads((run / "train_result.json").read_text())
        lp = {int(k): v for k, v in s["loops"].items()}
        L, deep = s["max_loop_depth"], max(lp)
        fx = s["fixed_depth"]["interpolated_bpb"]
        rows.append(f"| {run.name} | {shape(t)} | {s['parameters']:,} | {t.get('steps')} | {t.get('tokens'):,} | "
                    f"{t.get('cpu_seconds', 0):.0f} | {lp[min(lp)]:.4f} | {lp[L]:.4f} ({L}) | "
                    f"{lp[deep]:.4f} ({deep}) | {s['act_bpb']:.4f} ({s['act_mean_depth']:.2f}) | {fx:.4f} |")
    return rows + [""]


def markdown_phase(args: argparse.Namespace) -> None:
    lines = ["## mythos-depth: does depth pay?", "",
             f"Machine: {machine()}; torch {torch.__version__}; commit {git_rev()}.",
             "Command per run: `python benchmarks/bench_mythos_depth.py --phase train ...` then `--phase score`; "
             "every run's command and result: `docs/figures/mythos_depth_runs.json`.", ""]
    if args.preamble:
        lines += [Path(args.preamble).read_text().rstrip(), ""]
    lines += summary_table([Path(r) for r in args.runs])
    for r in args.runs:
        lines += run_section(Path(r))
    md = "\n".join(lines) + "\n"
    print(md)
    if not args.no_write:
        write_section("mythos-depth", md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", choices=("train", "score", "markdown", "all"), required=True)
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--run-dir", default="runs/mythos-depth")
    ap.add_argument("--runs", nargs="*", default=[], help="markdown: the scored run folders, in order")
    ap.add_argument("--preamble", help="markdown: a file whose text opens the section")
    ap.add_argument("--steps", type=int, default=0, help="budget in optimizer steps (0: --seconds)")
    ap.add_argument("--seconds", type=float, default=0.0, help="budget in wall-clock seconds (0: --steps)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", action="append", default=[], help="KEY=VALUE override of the byte defaults")
    ap.add_argument("--train-eval-bytes", type=int, default=16384, help="held-out bytes of the trainer's own "
                    "final evaluation (the score phase measures separately)")
    ap.add_argument("--valid-bytes", type=int, default=0, help="score the first N held-out bytes (0: all)")
    ap.add_argument("--loops", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--runs-log", default=str(RUNS_LOG), help="score: the JSON list every scored run is appended to")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.phase != "markdown":
        Path(args.run_dir).mkdir(parents=True, exist_ok=True)
    if args.phase in ("train", "all"):
        if not (args.steps or args.seconds):
            ap.error("give --steps or --seconds")
        train_phase(args)
    if args.phase in ("score", "all"):
        score_phase(args)
    if args.phase == "all":
        args.runs = [args.run_dir]
    if args.phase in ("markdown", "all"):
        markdown_phase(args)


if __name__ == "__main__":
    main()

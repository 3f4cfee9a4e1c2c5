"""The README's causal-bank recipe, run exactly as a user runs it, scored the way a user scores it
(section "recipe").

    decepticons data shakespeare  (or any train/valid pair)
    decepticons train --model causal-bank --mode gated_retention --input train.txt --valid valid.txt --tokens 24M \
        --save bank.safetensors
    decepticons score --load bank.safetensors --input valid.txt

``--tokens 24M`` is 10 CPU-minutes of the default causal bank on a 2-core machine (benchmarks/bench_bank_sweep.py
states the measurement); a token budget gives the same model whatever the machine's load. ``--budget 10m``
(wall clock) is the older form of the recipe.

The section reports, per seed (``--seed``: data order and initial weights), what ``train`` printed (steps,
tokens/s, its held-out figure on the first 64 KB of valid) and what ``score`` gives on the whole valid file,
plus the per-quarter bits/byte of the trace, which shows whether the model stays stable over a long input;
then the mean, spread and range over the seeds. ``--jobs N`` runs N seeds side by side, each pinned to a core
of its own with one thread (a token budget's result does not depend on the thread count beyond float
rounding).

    python benchmarks/bench_recipe.py --tokens 24M --seeds 0 1 2 --jobs 2
    python benchmarks/bench_recipe.py --budget 10m
    python benchmarks/bench_recipe.py --render RUN_DIR     # rewrite the section from an earlier run's outputs
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402


def seed_dir(run_dir: Path, seed: int) -> Path:
    """Seed 0's outputs live in ``run_dir`` itself (where later steps, e.g. composition, read the model)."""
    return run_dir if seed == 0 else run_dir / f"seed{seed}"


def run_seed(run_dir: Path, train: str, valid: str, budget: list[str], seed: int,
             core: int | None = None) -> subprocess.Popen[bytes]:
    """Start ``train`` then ``score`` for one seed (one shell pipeline, so a failed train skips the score)."""
    d = seed_dir(run_dir, seed)
    d.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "decepticons"]
    train_cmd = cli + ["train", "--model", "causal-bank", "--mode", "gated_retention", "--input", train, "--valid",
                       valid, *budget, "--seed", str(seed), "--save", str(d / "bank.safetensors"), "--run-dir",
                       str(d / "run"), "--json"]
    score_cmd = cli + ["score", "--load", str(d / "bank.safetensors"), "--input", valid, "--trace",
                       str(d / "trace.npy"), "--json"]
    env = dict(os.environ)
    if core is not None:
        env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")

    def pin() -> None:
        if core is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {core})

    script = (f"{shlex.join(train_cmd)} > {shlex.quote(str(d / 'train.json'))} && "
              f"{shlex.join(score_cmd)} > {shlex.quote(str(d / 'score.json'))}")
    return subprocess.Popen(["bash", "-c", script], env=env, preexec_fn=pin)


def run(run_dir: Path, train: str, valid: str, budget: list[str], seeds: list[int], jobs: int = 1) -> None:
    """Every seed's recipe, ``jobs`` at a time (each on a core of its own when ``jobs > 1``)."""
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    pending = list(seeds)
    running: dict[int, subprocess.Popen[bytes]] = {}
    failed = []
    while pending or running:
        while pending and len(running) < jobs:
            free = sorted(set(range(ncpu)) - set(running))
            core = free[0] if jobs > 1 and free else None
            key = core if core is not None else -1 - len(running)
            running[key] = run_seed(run_dir, train, valid, budget, pending.pop(0), core)
        for key, proc in list(running.items()):
            if proc.poll() is not None:
                if proc.returncode:
                    failed.append(proc.args[-1])
                del running[key]
        time.sleep(1.0)
    if failed:
        raise SystemExit(f"bench_recipe: {len(failed)} seed run(s) failed; see the error output above")


def _seed_rows(run_dir: Path, seeds: list[int]) -> list[tuple[int, dict, dict, np.ndarray | None]]:
    rows = []
    for seed in seeds:
        d = seed_dir(run_dir, seed)
        tr = json.loads((d / "train.json").read_text())["train"]
        sc = json.loads((d / "score.json").read_text())["score"]
        trace = d / "trace.npy"
        rows.append((seed, tr, sc, np.load(trace) if trace.exists() else None))
    return rows


def render(run_dir: Path, command: str, seeds: list[int] | None = None) -> str:
    if seeds is None:  # every seed whose outputs are in the folder
        seeds = [0] + sorted(int(p.name[4:]) for p in run_dir.glob("seed*") if (p / "score.json").exists())
    rows = _seed_rows(run_dir, seeds)
    tr0 = dict(rows[0][1])
    cfg_file = seed_dir(run_dir, seeds[0]) / "run" / "train_config.json"
    if cfg_file.exists():
        tr0.update(json.loads(cfg_file.read_text()).get("train_config", {}))
    bpb = np.array([sc["bits_per_byte"] for _, _, sc, _ in rows])
    lines = [
        "## The README's causal-bank recipe, scored as a user scores it",
        "",
        f"Command: `{command}`. Machine: {machine()}; commit {git_rev()}.",
        "",
        f"Each seed trains the default causal bank with the trainer's defaults for it "
        f"(batch {tr0.get('batch_size', '?')} x {tr0.get('seq_len', '?')}, peak lr {tr0.get('lr', '?')}), then "
        f"`score` reads the whole valid file. Tokens/s and seconds are the training's own (one thread a seed "
        f"when seeds ran side by side).",
        "",
        f"| seed | steps | tokens | tokens/s | train seconds | `train` held-out (first {tr0['valid_bytes']:,} bytes) "
        "| `score`: whole valid "
        "| bits/byte per quarter of valid |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for seed, tr, sc, bits in rows:
        q = "" if bits is None else " / ".join(f"{float(p.mean()):.3f}" for p in np.array_split(bits, 4))
        lines.append(f"| {seed} | {tr['steps']:,} | {tr['tokens']:,} | {tr['tokens_per_second']:,.0f} | "
                     f"{tr['seconds']:.0f} | {tr['valid_bits_per_byte']:.4f} | **{sc['bits_per_byte']:.4f}** | {q} |")
    if len(rows) > 1:
        lines += ["", f"Over {len(rows)} seeds: mean **{bpb.mean():.4f}** bits/byte on the whole valid file, "
                  f"std {bpb.std(ddof=1):.4f}, min {bpb.min():.4f}, max {bpb.max():.4f}."]
    lines += ["", "Target (issue: neural models): <= 2.15 bits/byte, mean of >= 3 seeds, at 10 CPU-minutes "
              f"({'met' if len(rows) >= 3 and bpb.mean() <= 2.15 else 'not met'} here).",
              "", f"The model was trained on detached {tr0.get('seq_len', 512)}-byte windows and records that "
              "window; `score`, `compress` and the mixer read every prediction from a state started half a "
              "window to a whole window before it (two staggered states), so quality does not drift with the "
              "input's length."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", help="training text (default: the Shakespeare split from decepticons.data)")
    ap.add_argument("--valid")
    ap.add_argument("--budget", help="wall-clock budget (e.g. 10m) instead of --tokens")
    ap.add_argument("--tokens", help="token budget (default 24M: 10 CPU-minutes of a 2-core machine)")
    ap.add_argument("--run-dir", help="keep the run's outputs (bank.safetensors, train.json, score.json, trace.npy) "
                                      "in this folder (default: a new temporary folder)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run (default 0 1 2)")
    ap.add_argument("--jobs", type=int, default=1, help="seeds side by side, each pinned to a core (default 1)")
    ap.add_argument("--render", help="rewrite the section from the outputs in this folder (no run)")
    ap.add_argument("--command", help="with --render: the command line that produced the outputs")
    args = ap.parse_args()
    if args.render:
        md = render(Path(args.render), args.command or command_line())
    else:
        train, valid = args.train, args.valid
        if not (train and valid):
            from decepticons.data import shakespeare

            paths = shakespeare()
            train, valid = str(paths["train"]), str(paths["valid"])
        if args.run_dir:
            run_dir = Path(args.run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = Path(tempfile.mkdtemp(prefix="decepticons-recipe-", dir=os.environ.get("TMPDIR")))
        tokens = args.tokens or (None if args.budget else "24M")
        budget = (["--budget", args.budget] if args.budget else []) + (["--tokens", tokens] if tokens else [])
        run(run_dir, train, valid, budget, args.seeds, args.jobs)
        md = render(run_dir, command_line(), args.seeds)
    print(md)
    write_section("recipe", md)


if __name__ == "__main__":
    main()

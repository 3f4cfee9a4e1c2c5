"""The README's causal-bank recipe, run exactly as a user runs it, scored the way a user scores it
(section "recipe").

    decepticons data shakespeare  (or any train/valid pair)
    decepticons train --model causal-bank --mode gated_retention --input train.txt --valid valid.txt --tokens 24M \
        --save bank.safetensors
    decepticons score --load bank.safetensors --input valid.txt

``--tokens 24M`` is 10 CPU-minutes of the default causal bank on a 2-core machine (benchmarks/bench_bank_sweep.py
states the measurement); a token budget gives the same model whatever the machine's load. ``--budget 10m``
(wall clock) is the older form of the recipe.

The section reports what ``train`` printed (steps, tokens/s, its held-out figure on the first 64 KB of valid)
and what ``score`` gives on the whole valid file, plus the per-quarter bits/byte of the trace, which shows
whether the model stays stable over a long input.

    python benchmarks/bench_recipe.py --tokens 24M
    python benchmarks/bench_recipe.py --budget 10m
    python benchmarks/bench_recipe.py --render RUN_DIR     # rewrite the section from an earlier run's outputs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402


def run(run_dir: Path, train: str, valid: str, budget: list[str]) -> None:
    cli = [sys.executable, "-m", "decepticons"]
    with open(run_dir / "train.json", "w") as out:
        subprocess.run(cli + ["train", "--model", "causal-bank", "--mode", "gated_retention", "--input", train,
                              "--valid", valid, *budget, "--save", str(run_dir / "bank.safetensors"), "--run-dir",
                              str(run_dir / "run"), "--json"], stdout=out, check=True)
    with open(run_dir / "score.json", "w") as out:
        subprocess.run(cli + ["score", "--load", str(run_dir / "bank.safetensors"), "--input", valid, "--trace",
                              str(run_dir / "trace.npy"), "--json"], stdout=out, check=True)


def render(run_dir: Path, command: str) -> str:
    tr = json.loads((run_dir / "train.json").read_text())["train"]
    sc = json.loads((run_dir / "score.json").read_text())["score"]
    lines = [
        "## The README's causal-bank recipe, scored as a user scores it",
        "",
        f"Command: `{command}`. Machine: {machine()}; commit {git_rev()}.",
        "",
        "| step | figure |",
        "|---|---:|",
        f"| `train`: steps, tokens/s, seconds | {tr['steps']:,}, {tr['tokens_per_second']:,.0f}, "
        f"{tr['seconds']:.0f} |",
        f"| `train`: held-out bits/byte (first {tr['valid_bytes']:,} bytes of valid) | "
        f"{tr['valid_bits_per_byte']:.4f} |",
        f"| `score`: bits/byte on the whole valid file ({sc['bytes']:,} bytes) | **{sc['bits_per_byte']:.4f}** |",
    ]
    trace = run_dir / "trace.npy"
    if trace.exists():
        bits = np.load(trace)
        q = [float(part.mean()) for part in np.array_split(bits, 4)]
        lines.append("| `score --trace`: bits/byte per quarter of valid | " + " / ".join(f"{v:.3f}" for v in q)
                     + " |")
    lines += ["", "The model was trained on detached 256-byte windows and records that window; `score`, "
              "`compress` and the mixer read every prediction from a state started 128 to 256 bytes "
              "before it (two staggered states), so quality does not drift with the input's length."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", help="training text (default: the Shakespeare split from decepticons.data)")
    ap.add_argument("--valid")
    ap.add_argument("--budget", help="wall-clock budget (e.g. 10m) instead of --tokens")
    ap.add_argument("--tokens", help="token budget (default 24M: 10 CPU-minutes of a 2-core machine)")
    ap.add_argument("--run-dir", help="keep the run's outputs (bank.safetensors, train.json, score.json, trace.npy) "
                                      "in this folder (default: a new temporary folder)")
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
        run(run_dir, train, valid, budget)
        md = render(run_dir, command_line())
    print(md)
    write_section("recipe", md)


if __name__ == "__main__":
    main()

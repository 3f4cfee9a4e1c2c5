"""Throughput before / after a change, measured in one run (section "ab" of docs/changes.md).

Builds a clean checkout of ``--before`` (a git revision) beside the working tree and times the same
workloads on both, alternating (before, after, before, after, ...) so drift of the host hits both alike.
Each timing runs in a fresh child process with only that tree's ``src`` on its path. Workloads use only
names that both trees export (the registry and the coding functions), so a restructuring can be compared:

- coder fit: ``ByteLatentPredictiveCoder().fit`` on the first ``--fit-bytes`` of the training text;
- mixer score / compress: the mixer fitted on the same bytes, then ``target_log_probs`` and ``compress`` of
  ``--score-bytes`` of held-out text (numba kernels, compiled before timing);
- causal-bank train step: forward + backward + AdamW of the default causal bank, batch 16 x 256 bytes,
  median over steps 5..``--steps``, one torch thread.

    python benchmarks/bench_ab.py --before REV [--train T --valid V]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, command_line, git_rev, machine, median, write_section  # noqa: E402

CHILD = r'''
import json, sys, time
import numpy as np
work, train_path, valid_path, fit_bytes, score_bytes, steps = sys.argv[1:7]
fit_bytes, score_bytes, steps = int(fit_bytes), int(score_bytes), int(steps)
train = np.fromfile(train_path, dtype=np.uint8)[:fit_bytes]
valid = np.fromfile(valid_path, dtype=np.uint8)[:score_bytes]
from decepticons.registry import model_class
out = {}
if work == "coder":
    m = model_class("coder")()
    t0 = time.perf_counter(); m.fit(train); out["coder_fit_kbps"] = fit_bytes / 1e3 / (time.perf_counter() - t0)
elif work == "mixer":
    from decepticons.coding import compress
    m = model_class("mixer")()
    m.fit(train)
    m.target_log_probs(valid[:2000]); compress(m, valid[:2000])      # compile before timing
    t0 = time.perf_counter(); m.target_log_probs(valid); dt = time.perf_counter() - t0
    out["mixer_score_kbps"] = score_bytes / 1e3 / dt
    t0 = time.perf_counter(); compress(m, valid); dt = time.perf_counter() - t0
    out["mixer_compress_kbps"] = score_bytes / 1e3 / dt
elif work == "bank":
    import torch
    torch.set_num_threads(1); torch.manual_seed(0)
    try:
        from decepticons.training import TrainConfig, Trainer
    except ImportError:
        from decepticons.models.trainer import TrainConfig, Trainer
    p = model_class("causal-bank")()
    cfg = TrainConfig(batch_size=16, seq_len=256, max_steps=steps, eval_every=0, checkpoint_seconds=None, plot=False)
    tr = Trainer(p, train, None, cfg)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter(); tr.train_step(); times.append(time.perf_counter() - t0)
    out["bank_step_ms"] = 1e3 * float(np.median(times[5:]))
print("RESULT " + json.dumps(out))
'''


def run_child(tree: Path, work: str, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", CHILD, work, args.train, args.valid, str(args.fit_bytes),
                          str(args.score_bytes), str(args.steps)], env=env, capture_output=True, text=True,
                         cwd=tree)
    if res.returncode != 0:
        raise SystemExit(f"{work} in {tree} failed:\n{res.stderr[-3000:]}")
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="git revision to compare against")
    ap.add_argument("--train", help="training text (default: the Shakespeare split from decepticons.data)")
    ap.add_argument("--valid")
    ap.add_argument("--fit-bytes", type=int, default=1_000_000)
    ap.add_argument("--score-bytes", type=int, default=375_000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", nargs="+", default=["coder", "mixer", "bank"])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not (args.train and args.valid):
        from decepticons.data import shakespeare

        paths = shakespeare()
        args.train, args.valid = str(paths["train"]), str(paths["valid"])
    args.train, args.valid = str(Path(args.train).resolve()), str(Path(args.valid).resolve())
    before_rev = subprocess.run(["git", "rev-parse", "--short", args.before], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(before), before_rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
            for r in range(args.rounds):
                for work in args.work:
                    for side, tree in (("before", before), ("after", ROOT)) if r % 2 == 0 else \
                            (("after", ROOT), ("before", before)):
                        for k, v in run_child(tree, work, args).items():
                            results[side].setdefault(k, []).append(v)
                        print(side, work, {k: round(v[-1], 2) for k, v in results[side].items()}, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, capture_output=True)
    rows = ["| measure | before | after | change |", "|---|---:|---:|---:|"]
    for k in results["before"]:
        b, a = median(results["before"][k]), median(results["after"][k])
        better = a / b - 1 if not k.endswith("_ms") else b / a - 1
        rows.append(f"| {k} | {b:.2f} | {a:.2f} | {100 * better:+.1f}% |")
    md = "\n".join([
        "## Throughput before / after a change",
        "",
        f"Command: `{command_line()}`; before = `{before_rev}`, after = `{git_rev()}` (working tree).",
        f"Machine: {machine()}. Medians of {args.rounds} alternating rounds, each in a fresh process; "
        "\"change\" is positive when the new code is faster (KB/s up or ms down).",
        "",
        *rows,
    ])
    print(md)
    if not args.no_write:
        write_section("ab", md, doc=ROOT / "docs" / "changes.md")  # two commits: not in benchmarks.md


if __name__ == "__main__":
    main()

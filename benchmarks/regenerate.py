"""Regenerate every section of a benchmark page (and the README's leaderboard) at one commit, in one command.

    python benchmarks/regenerate.py --list                     # the plan: steps, sections, estimated minutes
    python benchmarks/regenerate.py                            # docs/benchmarks.md (about 2 h on 2 CPU cores)
    python benchmarks/regenerate.py --page experiments         # docs/experiments.md (the long studies: hours)
    python benchmarks/regenerate.py --jobs 1                   # one step at a time, each with every core
    python benchmarks/regenerate.py --from composition         # resume at a step (same commit only)
    python benchmarks/regenerate.py --only scan,rollout        # a subset

Each step runs one benchmark script in a fresh process with the data written by ``decepticons data`` into the
work folder (``--work``, default ``runs/regenerate``), so every section states the same commit, machine and
corpus. The tree must be clean (the commit is what the sections name) and must stay at that commit while the
steps run; a step that fails stops the run (the steps already running finish), and ``--from`` resumes at it.
Progress (steps done at which commit, seconds each) is kept in ``WORK/progress-PAGE.json``, each step's
output in ``WORK/logs/STEP.log``. At the end the page's ``regenerated`` section records the commit, the way
the steps shared the machine and the time of every step; the README's leaderboard block is rewritten from
the full bench.

``--jobs N`` (default: the number of cores, at most 2) runs up to N steps side by side, longest first, each
pinned to a core of its own with one thread (``OMP_NUM_THREADS=1``, ``NUMBA_NUM_THREADS=1``, and
``DECEPTICONS_BENCH_THREADS=1`` for the scripts that set torch's threads): every figure is then a one-core
figure, and two steps never compete for a core. Training budgets are in tokens or steps where the section
compares models, so sharing the machine changes seconds, not bits. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import DOC, EXPERIMENTS, ROOT, THREADS_ENV, git_rev, machine, write_section  # noqa: E402

README = ROOT / "README.md"
BENCH_FULL_JSON = ROOT / "docs" / "figures" / "bench_full.json"


@dataclass
class Step:
    """One benchmark run: ``argv`` after ``python`` (``{train}``, ``{valid}``, ``{work}``, ``{data}`` are
    filled in), the sections it writes, and a rough duration on one core of a 2-core CPU."""

    name: str
    argv: list[str]
    sections: tuple[str, ...]
    minutes: float
    needs: tuple[str, ...] = field(default_factory=tuple)
    #: the page whose sections it writes: ``benchmarks`` or ``experiments`` (:func:`_report.page_of`)
    page: str = "benchmarks"
    #: runs with the machine to itself, every core and thread (its budgets are wall-clock seconds)
    alone: bool = False


T, V = "--train={train}", "--valid={valid}"
E = "experiments"
STEPS: list[Step] = [
    # docs/benchmarks.md: what the package does (speed, compression, composition, the bench)
    Step("scan", ["benchmarks/bench_scan.py"], ("scan",), 6),
    Step("recipe", ["benchmarks/bench_recipe.py", T, V, "--run-dir={work}/recipe"], ("recipe",), 56),
    Step("compression", ["benchmarks/bench_compression.py", T, V], ("compression",), 12),
    Step("coder", ["benchmarks/bench_coder.py", T, V], ("coder",), 10),
    Step("coder-memory", ["benchmarks/bench_coder.py", "--memory-scaling", T], ("coder-memory",), 15),
    Step("adapters", ["benchmarks/bench_adapters.py"], ("oracle", "reconstruction"), 5),
    Step("rollout", ["benchmarks/bench_rollout.py"], ("rollout",), 8),
    Step("distillation", ["benchmarks/bench_distill.py", "--train-bytes", "1000000", "--steps", "200",
                          "--workdir={work}/distill"], ("distillation",), 12),
    Step("composition", ["benchmarks/bench_composition.py", T, V, "--bank={work}/recipe/bank.safetensors",
                         "--results={work}/composition.json"], ("composition",), 35, needs=("recipe",)),
    Step("transfer", ["benchmarks/bench_transfer.py", "--results={work}/transfer.json"], ("transfer",), 10),
    Step("mlx", ["benchmarks/bench_mlx.py"], ("mlx",), 10),
    # alone: its speed figures are targets, and a neighbour sharing the cache and memory bus slows its
    # table lookups (decompression measured 2.3x slower per CPU-second beside the full bench)
    Step("cm", ["benchmarks/bench_cm.py", "--root={data}", "--paq-cache={work}/paq8px.json"], ("cm",), 40,
         alone=True),
    Step("bench-quick", ["benchmarks/bench_suite.py"], ("bench-quick",), 6),
    Step("bench-full", ["benchmarks/bench_suite.py", "--full"], ("bench-full",), 45),
    # docs/experiments.md: the long training studies and sweeps
    Step("training", ["benchmarks/bench_training.py", "--phase", "all", "--mode-budget", "120", "--budget", "600",
                      T, V], ("training",), 45, page=E, alone=True),
    Step("mythos", ["benchmarks/bench_mythos.py", "--phase", "all", "--seconds", "600", T, V,
                    "--run-dir={work}/mythos", "--open-mythos-path={peers}/open-mythos"], ("mythos",), 40, page=E,
         alone=True),
    Step("mythos-depth", ["benchmarks/bench_mythos_depth.py", "--phase", "all", "--steps", "500", T, V,
                          "--run-dir={work}/mythos-depth"], ("mythos-depth",), 60, page=E),
    Step("ablations", ["benchmarks/ablations.py", T, V, "--train-bytes", "1000000", "--valid-bytes", "100000",
                       "--results={work}/ablations.json"], ("ablations",), 60, page=E),
    Step("bank-sweep", ["benchmarks/bench_bank_sweep.py", "run", "default", "b32-lr3e-3", "lr1e-2+batch16",
                        "--phase", "final", "--minutes", "10", "--seeds", "0", "1", "2"], (), 100, page=E),
    Step("bank-sweep-render", ["benchmarks/bench_bank_sweep.py", "render"], ("bank-sweep",), 1,
         needs=("bank-sweep",), page=E),
    Step("scaling", ["benchmarks/bench_scaling.py", "--model", "cm", "--sizes", "1,10,100"], ("scaling",), 25, page=E),
]
#: peer packages measured side by side (installed into WORK/peers/NAME, never imported by the package)
PEERS = {"open-mythos": "open-mythos==0.5.0"}
#: the pages and the section of each written by this script itself (how the figures were made)
PAGES = {"benchmarks": (DOC, "regenerated"), "experiments": (EXPERIMENTS, "regenerated-experiments")}


def sections(page: str | None = None) -> set[str]:
    """Every section name the plan writes (on ``page`` only, when given)."""
    pages = [page] if page else list(PAGES)
    return {s for step in STEPS if step.page in pages for s in step.sections} | {PAGES[p][1] for p in pages}


def schedule(steps: list[Step], jobs: int) -> list[list[str]]:
    """The order :func:`run_steps` starts ``steps`` in with ``jobs`` lanes, as the lanes' step names: each free
    lane takes the longest step whose ``needs`` are done (or are not part of this run); an ``alone`` step
    waits for every lane and holds them all. Used by ``--list``."""
    names = {s.name for s in steps}
    lanes: list[list[str]] = [[] for _ in range(jobs)]
    free_at = [0.0] * jobs
    finish: dict[str, float] = {}
    todo = list(steps)
    while todo:
        lane = min(range(jobs), key=lambda i: free_at[i])
        now = free_at[lane]
        ready = [s for s in todo if all(n not in names or finish.get(n, float("inf")) <= now for n in s.needs)]
        if not ready:  # wait for the step it needs to finish
            free_at[lane] = min(t for t in finish.values() if t > now)
            continue
        step = max(ready, key=lambda s: s.minutes)
        todo.remove(step)
        if step.alone:  # it starts when every lane is free and holds them all
            now = max(free_at)
            for i in range(jobs):
                free_at[i] = now + step.minutes
        else:
            free_at[lane] = now + step.minutes
        lanes[lane].append(step.name)
        finish[step.name] = now + step.minutes
    return lanes


def _clean_commit() -> str:
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    # what the steps write (docs/, the README's leaderboard) may differ; anything else is code
    dirty = [line[3:] for line in status if not (line[3:].startswith("docs/") or line[3:] == "README.md")]
    if dirty:
        raise SystemExit(f"regenerate: uncommitted changes in {', '.join(dirty[:5])}; commit them first (the "
                         "sections name the commit they were measured at)")
    return git_rev()


def _data(work: Path) -> dict[str, str]:
    """Write the corpora with the package's own data command; returns the paths to fill in."""
    data = work / "data"
    subprocess.run([sys.executable, "-m", "decepticons", "data", "shakespeare", "python-source", "rst-docs",
                    "--output", str(data)], check=True)
    peers = work / "peers"
    for name, pin in PEERS.items():  # measured beside ours where a section has a peer row; optional
        if not (peers / name).exists():
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                str(peers / name), pin], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"regenerate: {pin} could not be installed (its peer row is left out): "
                      f"{r.stderr.strip()[-300:]}", file=sys.stderr)
    paths = {"train": data / "shakespeare" / "train.txt", "valid": data / "shakespeare" / "valid.txt",
             "work": work, "data": data, "peers": peers}
    return {k: _shown(v) for k, v in paths.items()}


def _shown(path: Path) -> str:
    """``path`` as the steps receive it (they run in the repository root): relative to it when inside it, so
    the commands the sections quote name no folder of this machine."""
    path = path.resolve()
    try:
        return str(path.relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)


def leaderboard(report: dict) -> str:
    """The README's leaderboard: the full bench's rows, best adaptive bits/byte first."""
    rows = [r for r in report["rows"] if not r.get("skipped") and r.get("adaptive_bpb") is not None]
    rows.sort(key=lambda r: r["adaptive_bpb"])
    lines = [f"Shakespeare split, whole valid file ({report['valid_bytes']:,} bytes), written by "
             "`python benchmarks/regenerate.py` (see docs/benchmarks.md, section bench-full, for the machine and "
             "commit):", "",
             "| model or compressor | bits/byte (adaptive) | static | compressed file |", "|---|---:|---:|---:|"]
    for r in rows:
        label = f"{r['name']} ({r['note']})" if r.get("note") else r["name"]

        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"
        lines.append(f"| {label} | {f(r['adaptive_bpb'])} | {f(r.get('static_bpb'))} | {f(r.get('file_bpb'))} |")
    return "\n".join(lines)


def write_readme_block(name: str, markdown: str, path: Path = README) -> None:
    """Replace the README's ``<!-- BEGIN name -->`` ... ``<!-- END name -->`` block (it must exist)."""
    text = path.read_text()
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    if begin not in text or end not in text:
        raise SystemExit(f"regenerate: README.md has no {begin} block")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{markdown.rstrip()}\n{end}{tail}")


def _lane_env(jobs: int) -> dict[str, str]:
    if jobs == 1:
        return dict(os.environ)
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
            THREADS_ENV: "1"}


def run_steps(steps: list[Step], jobs: int, fill: dict[str, str], commit: str, logs: Path,
              on_done: Callable[[Step, float], None]) -> None:
    """Run ``steps`` up to ``jobs`` at a time (longest ready step first, each pinned to a core of its own when
    ``jobs > 1``; an ``alone`` step waits until nothing runs and has the machine to itself); ``on_done(step,
    seconds)`` after each. A failing step lets the running ones finish, then stops the run."""
    logs.mkdir(parents=True, exist_ok=True)
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    names = {s.name for s in steps}
    todo, running, done, failed = list(steps), {}, set(), []
    env = _lane_env(jobs)
    while todo or running:
        free = [c for c in cores[:jobs] if c not in {r[1] for r in running.values()}] if jobs > 1 else [None]
        ready = [s for s in todo if all(n not in names or n in done for n in s.needs)]
        while not failed and ready and len(running) < jobs and free:
            if any(r[4].alone for r in running.values()):
                break
            step = max(ready, key=lambda s: s.minutes)
            if step.alone and running:
                break  # it waits for the lanes to empty
            ready.remove(step)
            todo.remove(step)
            core = None if step.alone else free.pop(0)
            argv = [a.format(**fill) for a in step.argv]
            where = f" on core {core}" if core is not None else ""
            print(f"regenerate: {step.name} (~{step.minutes:.0f} min){where}: python {' '.join(argv)} "
                  f"(log {logs / (step.name + '.log')})", flush=True)
            log = open(logs / f"{step.name}.log", "w")
            pin = (lambda c=core: os.sched_setaffinity(0, {c})) if core is not None else None
            proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(os.environ) if step.alone else env, preexec_fn=pin)
            running[step.name] = (proc, core, time.time(), log, step)
        if not running:
            break
        time.sleep(2)
        for name, (proc, _core, t0, log, step) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[name]
            if proc.returncode != 0:
                failed.append(name)
                print(f"regenerate: step {name} failed (exit {proc.returncode}); its log: {logs / (name + '.log')}",
                      file=sys.stderr, flush=True)
                continue
            if git_rev() != commit:
                raise SystemExit("regenerate: the commit changed while the steps ran; start again")
            done.add(name)
            on_done(step, time.time() - t0)
            print(f"regenerate: {name} done in {(time.time() - t0) / 60:.1f} min", flush=True)
    if failed:
        raise SystemExit(f"regenerate: step(s) {', '.join(failed)} failed; fix and resume with --from "
                         f"{failed[0]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the plan and exit")
    ap.add_argument("--page", choices=tuple(PAGES), default="benchmarks",
                    help="benchmarks (docs/benchmarks.md, default) or experiments (docs/experiments.md)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="steps side by side, each pinned to one core with one thread (1: one step with every "
                         "core; default: the cores, at most 2)")
    ap.add_argument("--only", help="comma-separated step names")
    ap.add_argument("--from", dest="start", help="resume at this step (it and the steps after it in the plan)")
    ap.add_argument("--work", default=str(ROOT / "runs" / "regenerate"), help="work folder (data, runs, progress)")
    args = ap.parse_args()
    if args.jobs < 1:
        raise SystemExit("regenerate: --jobs must be at least 1")
    plan = [s for s in STEPS if s.page == args.page]
    names = [s.name for s in plan]
    if args.list:
        for s in plan:
            print(f"{s.name:17s} ~{s.minutes:4.0f} min  sections {', '.join(s.sections):28s} python {' '.join(s.argv)}")
        lanes = schedule(plan, args.jobs)
        by = {s.name: s.minutes for s in plan}
        print(f"total ~{sum(by.values()) / 60:.1f} h of steps; with --jobs {args.jobs} about "
              f"{max(sum(by[n] for n in lane) for lane in lanes) / 60:.1f} h wall")
        return
    chosen = plan
    if args.only:
        want = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in want if n not in names]
        if unknown:
            raise SystemExit(f"regenerate: unknown step(s) {unknown}; steps of page {args.page}: {names}")
        chosen = [s for s in plan if s.name in want]
    if args.start:
        if args.start not in names:
            raise SystemExit(f"regenerate: unknown step {args.start!r}; steps of page {args.page}: {names}")
        chosen = chosen[names.index(args.start):] if not args.only else chosen
    commit = _clean_commit()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    progress_path = work / f"progress-{args.page}.json"
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {}
    if progress.get("commit") != commit:
        progress = {"commit": commit, "steps": {}}
    chosen_names = {s.name for s in chosen}
    for step in chosen:
        missing = [n for n in step.needs if n not in progress["steps"] and n not in chosen_names]
        if missing:
            raise SystemExit(f"regenerate: step {step.name} needs {missing} at this commit first")
    fill = _data(work)

    def on_done(step: Step, seconds: float) -> None:
        progress["steps"][step.name] = {"seconds": round(seconds, 1), "argv": step.argv,
                                        "jobs": 1 if step.alone else args.jobs}
        progress_path.write_text(json.dumps(progress, indent=1))

    run_steps(chosen, args.jobs, fill, commit, work / "logs", on_done)
    done = progress["steps"]
    doc, own = PAGES[args.page]
    lines = ["## How these figures were made", "",
             f"Regenerated at commit {commit} by `python benchmarks/regenerate.py"
             f"{' --page ' + args.page if args.page != 'benchmarks' else ''}` on {machine()}. Each step is one "
             "fresh process. *One core*: it ran beside another step, pinned to a core of its own with one thread "
             "(torch, numba and BLAS), so its speed figures are one-core figures, and a memory-bound step may be "
             "slowed by its neighbour sharing the cache and memory bus; *every core*: it had the machine to itself.",
             "",
             "| step | sections | cores | minutes |", "|---|---|---|---:|"]
    for s in plan:
        took = done.get(s.name)
        cores = "-" if took is None else ("every core" if took.get("jobs", 1) == 1 else "one core")
        lines.append(f"| {s.name} | {', '.join(s.sections)} | {cores} | "
                     f"{'not run' if took is None else format(took['seconds'] / 60, '.1f')} |")
    write_section(own, "\n".join(lines), doc=doc)
    if args.page == "benchmarks" and "bench-full" in done and BENCH_FULL_JSON.exists():
        write_readme_block("leaderboard", leaderboard(json.loads(BENCH_FULL_JSON.read_text())["bench"]))


if __name__ == "__main__":
    main()

"""Regenerate every section of docs/benchmarks.md (and the README's leaderboard) at one commit, in one command.

    python benchmarks/regenerate.py --list                 # the plan: steps, sections, estimated minutes
    python benchmarks/regenerate.py                        # everything, in order (hours on 2 CPU cores)
    python benchmarks/regenerate.py --from composition     # resume at a step (same commit only)
    python benchmarks/regenerate.py --only scan,rollout    # a subset

Each step runs one benchmark script in a fresh process with the data written by ``decepticons data`` into the
work folder (``--work``, default ``runs/regenerate``), so every section states the same commit, machine and
corpus. The tree must be clean (the commit is what the sections name) and must stay at that commit while the
steps run; a step that fails stops the run, and ``--from`` resumes at it. Progress (steps done at which
commit, seconds each) is kept in ``WORK/progress.json``. At the end the ``regenerated`` section records the
commit and the time of every step, and the README's leaderboard block is rewritten from the full bench.

Run it on an otherwise idle machine: training sections use wall-clock budgets and every section reports
throughput.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import DOC, ROOT, git_rev, machine, write_section  # noqa: E402

README = ROOT / "README.md"
BENCH_FULL_JSON = ROOT / "docs" / "figures" / "bench_full.json"


@dataclass
class Step:
    """One benchmark run: ``argv`` after ``python`` (``{train}``, ``{valid}``, ``{work}``, ``{data}`` are
    filled in), the sections it writes, and a rough duration on a 2-core CPU."""

    name: str
    argv: list[str]
    sections: tuple[str, ...]
    minutes: float
    needs: tuple[str, ...] = field(default_factory=tuple)


T, V = "--train={train}", "--valid={valid}"
STEPS: list[Step] = [
    Step("scan", ["benchmarks/bench_scan.py"], ("scan",), 5),
    Step("training", ["benchmarks/bench_training.py", "--phase", "all", "--mode-budget", "120", "--budget", "600",
                      T, V], ("training",), 35),
    Step("recipe", ["benchmarks/bench_recipe.py", T, V, "--run-dir={work}/recipe"], ("recipe",), 12),
    Step("mythos", ["benchmarks/bench_mythos.py", "--phase", "all", "--seconds", "600", T, V,
                    "--run-dir={work}/mythos", "--open-mythos-path={peers}/open-mythos"], ("mythos",), 25),
    Step("mythos-depth", ["benchmarks/bench_mythos_depth.py", "--phase", "all", "--steps", "500", T, V,
                          "--run-dir={work}/mythos-depth"], ("mythos-depth",), 40),
    Step("compression", ["benchmarks/bench_compression.py", T, V], ("compression",), 12),
    Step("coder", ["benchmarks/bench_coder.py", T, V], ("coder",), 10),
    Step("coder-memory", ["benchmarks/bench_coder.py", "--memory-scaling", T], ("coder-memory",), 15),
    Step("ablations", ["benchmarks/ablations.py", T, V, "--train-bytes", "1000000", "--valid-bytes", "100000",
                       "--results={work}/ablations.json"], ("ablations",), 60),
    Step("adapters", ["benchmarks/bench_adapters.py"], ("oracle", "reconstruction"), 5),
    Step("rollout", ["benchmarks/bench_rollout.py"], ("rollout",), 8),
    Step("distillation", ["benchmarks/bench_distill.py", "--train-bytes", "1000000", "--steps", "200",
                          "--workdir={work}/distill"], ("distillation",), 10),
    Step("composition", ["benchmarks/bench_composition.py", T, V, "--bank={work}/recipe/bank.safetensors",
                         "--results={work}/composition.json"], ("composition",), 45, needs=("recipe",)),
    Step("transfer", ["benchmarks/bench_transfer.py", "--results={work}/transfer.json"], ("transfer",), 10),
    Step("bank-sweep", ["benchmarks/bench_bank_sweep.py", "run", "default", "b32-lr3e-3", "lr1e-2+batch16",
                        "--phase", "final", "--minutes", "10", "--seeds", "0", "1", "2"], (), 100),
    Step("bank-sweep-render", ["benchmarks/bench_bank_sweep.py", "render"], ("bank-sweep",), 1,
         needs=("bank-sweep",)),
    Step("mlx", ["benchmarks/bench_mlx.py"], ("mlx",), 8),
    Step("cm", ["benchmarks/bench_cm.py", "--root={data}", "--paq-cache={work}/paq8px.json"], ("cm",), 40),
    Step("scaling", ["benchmarks/bench_scaling.py", "--sizes", "1,10,100"], ("scaling",), 50),
    Step("bench-quick", ["benchmarks/bench_suite.py"], ("bench-quick",), 6),
    Step("bench-full", ["benchmarks/bench_suite.py", "--full"], ("bench-full",), 40),
]
#: peer packages measured side by side (installed into WORK/peers/NAME, never imported by the package)
PEERS = {"open-mythos": "open-mythos==0.5.0"}
#: sections of docs/benchmarks.md written by this script itself
OWN_SECTIONS = ("regenerated",)


def sections() -> set[str]:
    """Every section name the plan writes."""
    return {s for step in STEPS for s in step.sections} | set(OWN_SECTIONS)


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
    return {"train": str(data / "shakespeare" / "train.txt"), "valid": str(data / "shakespeare" / "valid.txt"),
            "work": str(work), "data": str(data), "peers": str(peers)}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the plan and exit")
    ap.add_argument("--only", help="comma-separated step names")
    ap.add_argument("--from", dest="start", help="resume at this step")
    ap.add_argument("--work", default=str(ROOT / "runs" / "regenerate"), help="work folder (data, runs, progress)")
    args = ap.parse_args()
    names = [s.name for s in STEPS]
    if args.list:
        for s in STEPS:
            print(f"{s.name:14s} ~{s.minutes:4.0f} min  sections {', '.join(s.sections):28s} python {' '.join(s.argv)}")
        print(f"total ~{sum(s.minutes for s in STEPS) / 60:.1f} h")
        return
    chosen = STEPS
    if args.only:
        want = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in want if n not in names]
        if unknown:
            raise SystemExit(f"regenerate: unknown step(s) {unknown}; steps: {names}")
        chosen = [s for s in STEPS if s.name in want]
    if args.start:
        if args.start not in names:
            raise SystemExit(f"regenerate: unknown step {args.start!r}; steps: {names}")
        chosen = chosen[names.index(args.start):] if not args.only else chosen
    commit = _clean_commit()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    progress_path = work / "progress.json"
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {}
    if progress.get("commit") != commit:
        progress = {"commit": commit, "steps": {}}
    fill = _data(work)
    for step in chosen:
        missing = [n for n in step.needs if n not in progress["steps"]]
        if missing:
            raise SystemExit(f"regenerate: step {step.name} needs {missing} at this commit first")
        argv = [a.format(**fill) for a in step.argv]
        print(f"regenerate: {step.name} (~{step.minutes:.0f} min): python {' '.join(argv)}", flush=True)
        t0 = time.time()
        subprocess.run([sys.executable, *argv], cwd=ROOT, check=True)
        if git_rev() != commit:
            raise SystemExit("regenerate: the commit changed while the steps ran; start again")
        progress["steps"][step.name] = {"seconds": round(time.time() - t0, 1), "argv": step.argv}
        progress_path.write_text(json.dumps(progress, indent=1))
    done = progress["steps"]
    lines = ["## How these figures were made", "",
             f"Regenerated at commit {commit} by `python benchmarks/regenerate.py` on {machine()}; each step is one "
             "fresh process, in this order (wall minutes):", "",
             "| step | sections | minutes |", "|---|---|---:|"]
    for s in STEPS:
        took = done.get(s.name)
        lines.append(f"| {s.name} | {', '.join(s.sections)} | "
                     f"{'not run' if took is None else format(took['seconds'] / 60, '.1f')} |")
    write_section("regenerated", "\n".join(lines), doc=DOC)
    if "bench-full" in done and BENCH_FULL_JSON.exists():
        write_readme_block("leaderboard", leaderboard(json.loads(BENCH_FULL_JSON.read_text())["bench"]))


if __name__ == "__main__":
    main()

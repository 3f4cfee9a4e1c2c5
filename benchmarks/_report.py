"""Shared helpers for benchmark scripts: machine facts, medians, and writing a section of a benchmark page.

Each benchmark owns one section delimited by ``<!-- BEGIN name -->`` / ``<!-- END name -->`` and replaces
only that section, so scripts can be re-run independently and in any order. Two pages hold them:
``docs/benchmarks.md`` (what the package does: speed, compression, the bench, regenerated in about two hours)
and ``docs/experiments.md`` (the long training studies and sweeps, :data:`EXPERIMENT_SECTIONS`, hours more);
:func:`page_of` says which.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
EXPERIMENTS = ROOT / "docs" / "experiments.md"
#: sections of docs/experiments.md: training studies whose budgets (10-minute runs, seeds, 100 MB) take hours
EXPERIMENT_SECTIONS = ("training", "mythos", "mythos-depth", "ablations", "bank-sweep", "scaling",
                       "regenerated-experiments")
HEADER = ("# Benchmarks\n\nEvery figure here is written by a script in `benchmarks/`; "
          "re-run it to refresh its section.\n")
#: environment variable the regeneration sets when it runs steps side by side, one core each
THREADS_ENV = "DECEPTICONS_BENCH_THREADS"


def page_of(section: str) -> Path:
    """The page (docs/benchmarks.md or docs/experiments.md) that holds ``section``."""
    return EXPERIMENTS if section in EXPERIMENT_SECTIONS else DOC


def bench_threads(default: int = 2) -> int:
    """Torch threads of a benchmark: ``DECEPTICONS_BENCH_THREADS`` when set (one per step when the
    regeneration runs steps side by side), else ``default``."""
    value = os.environ.get(THREADS_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def machine() -> str:
    """One line naming the CPU, core count, memory and software versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f"{mem:.0f} GiB"
    except (ValueError, OSError):
        mem_s = "?"
    import numpy as np

    return (f"{cpu}, {os.cpu_count()} cores, {mem_s} RAM; Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_section(name: str, markdown: str, doc: Path | None = None) -> None:
    """Replace (or append) the section ``name`` of its page (``doc``, default :func:`page_of`)."""
    doc = page_of(name) if doc is None else doc
    doc.parent.mkdir(parents=True, exist_ok=True)
    block = f"<!-- BEGIN {name} -->\n{markdown.rstrip()}\n<!-- END {name} -->\n"
    with open(doc.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = doc.read_text() if doc.exists() else HEADER
        pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->\n?", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: block, text)
        else:
            text = text.rstrip() + "\n\n" + block
        tmp = doc.with_suffix(".md.tmp")
        tmp.write_text(text)
        os.replace(tmp, doc)


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])

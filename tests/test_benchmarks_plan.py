"""``benchmarks/regenerate.py`` is the one command that rewrites docs/benchmarks.md: every section in the file
is written by one of its steps, every step's script exists and accepts the flags the plan passes it, no step
names a machine-specific path, and the README has the leaderboard block the plan rewrites."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import regenerate  # noqa: E402


@pytest.mark.parametrize("page", ["benchmarks", "experiments"])
def test_every_section_is_regenerated(page: str) -> None:
    text = (ROOT / "docs" / f"{page}.md").read_text()
    in_doc = set(re.findall(r"<!-- BEGIN ([\w-]+) -->", text))
    assert in_doc, f"docs/{page}.md has no sections"
    assert in_doc - regenerate.sections(page) == set(), f"sections of {page}.md no step of its page writes"


def test_each_step_writes_to_its_own_page() -> None:
    from _report import page_of

    for step in regenerate.STEPS:
        for section in step.sections:
            assert page_of(section).stem == step.page, (step.name, section)
    for page, (doc, own) in regenerate.PAGES.items():
        assert page_of(own) == doc, page


def test_schedule_runs_every_step_once_and_dependencies_first() -> None:
    for page in regenerate.PAGES:
        plan = [s for s in regenerate.STEPS if s.page == page]
        for jobs in (1, 2, 3):
            lanes = regenerate.schedule(plan, jobs)
            assert sorted(n for lane in lanes for n in lane) == sorted(s.name for s in plan)
            start, t = {}, {}
            for lane in lanes:
                clock = 0.0
                for name in lane:
                    start[name] = clock
                    clock += next(s.minutes for s in plan if s.name == name)
                    t[name] = clock
            for s in plan:
                for need in s.needs:
                    assert t[need] <= start[s.name], (page, jobs, s.name, need)


def test_run_steps_runs_side_by_side_pinned_and_stops_on_a_failure(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("import os, sys, time\n"
                      "print(sorted(os.sched_getaffinity(0)), os.environ.get('OMP_NUM_THREADS'))\n"
                      "time.sleep(0.5)\nsys.exit(int(sys.argv[1]))\n")
    steps = [regenerate.Step("a", [str(script), "0"], (), 2), regenerate.Step("b", [str(script), "0"], (), 1),
             regenerate.Step("c", [str(script), "0"], (), 1, needs=("a",))]
    done: list[str] = []
    commit = regenerate.git_rev()
    jobs = 2 if len(os.sched_getaffinity(0)) >= 2 else 1
    regenerate.run_steps(steps, jobs, {}, commit, tmp_path / "logs", lambda s, sec: done.append(s.name))
    assert sorted(done) == ["a", "b", "c"] and done.index("a") < done.index("c")
    if jobs == 2:
        for name in "abc":
            cores, threads = (tmp_path / "logs" / f"{name}.log").read_text().split()[0:2]
            assert len(cores.strip("[]").split(",")) == 1 and threads == "1", (name, cores, threads)
    bad = [regenerate.Step("x", [str(script), "3"], (), 1), regenerate.Step("y", [str(script), "0"], (), 1,
                                                                           needs=("x",))]
    done.clear()
    with pytest.raises(SystemExit, match="x failed"):
        regenerate.run_steps(bad, jobs, {}, commit, tmp_path / "logs", lambda s, sec: done.append(s.name))
    assert done == []  # y never starts after the step it needs failed


def test_step_names_are_unique_and_dependencies_come_first() -> None:
    names = [s.name for s in regenerate.STEPS]
    assert len(names) == len(set(names))
    for i, step in enumerate(regenerate.STEPS):
        for need in step.needs:
            assert need in names[:i], (step.name, need)


@pytest.mark.parametrize("step", regenerate.STEPS, ids=lambda s: s.name)
def test_step_script_accepts_its_flags(step: regenerate.Step) -> None:
    script = ROOT / step.argv[0]
    assert script.exists(), script
    flags = {a.split("=", 1)[0] for a in step.argv[1:] if a.startswith("--")}
    # a script with subcommands: its positional words before the first flag choose the help page
    words = [a for a in step.argv[1:] if not a.startswith("--")]
    prefix = step.argv[1:1 + next((i for i, a in enumerate(step.argv[1:]) if a.startswith("--")), len(words))]
    r = subprocess.run([sys.executable, str(script), *prefix, "--help"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    for flag in flags:
        assert flag in r.stdout, f"{step.argv[0]} --help does not list {flag}"
    for arg in step.argv:
        assert "/tmp" not in arg and "/work" not in arg and "shared" not in arg, arg


def test_readme_has_the_leaderboard_block(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    assert "<!-- BEGIN leaderboard -->" in text and "<!-- END leaderboard -->" in text
    copy = tmp_path / "README.md"
    copy.write_text(text)
    report = {"valid_bytes": 10, "rows": [
        {"name": "b", "note": "", "adaptive_bpb": 2.0, "static_bpb": 2.5, "file_bpb": 2.01, "skipped": None},
        {"name": "a", "note": "x", "adaptive_bpb": 1.5, "static_bpb": None, "file_bpb": None, "skipped": None},
        {"name": "c", "note": "", "adaptive_bpb": None, "skipped": "torch is not installed"}]}
    regenerate.write_readme_block("leaderboard", regenerate.leaderboard(report), copy)
    new = copy.read_text()
    block = new.split("<!-- BEGIN leaderboard -->")[1].split("<!-- END leaderboard -->")[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["| a (x) | 1.500 | - | - |", "| b | 2.000 | 2.500 | 2.010 |"]
    assert new.split("<!-- BEGIN leaderboard -->")[0] == text.split("<!-- BEGIN leaderboard -->")[0]


def test_an_alone_step_has_the_machine_to_itself(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("import os, time\nt0 = time.time()\ntime.sleep(0.6)\n"
                      "print(t0, time.time(), len(os.sched_getaffinity(0)), os.environ.get('OMP_NUM_THREADS'))\n")
    steps = [regenerate.Step("a", [str(script)], (), 1), regenerate.Step("b", [str(script)], (), 1),
             regenerate.Step("solo", [str(script)], (), 3, alone=True)]
    regenerate.run_steps(steps, 2, {}, regenerate.git_rev(), tmp_path / "logs", lambda s, sec: None)
    spans = {}
    for name in ("a", "b", "solo"):
        t0, t1, cores, threads = (tmp_path / "logs" / f"{name}.log").read_text().split()
        spans[name] = (float(t0), float(t1), int(cores), threads)
    s0, s1, cores, threads = spans["solo"]
    assert cores == len(os.sched_getaffinity(0)) and threads == os.environ.get("OMP_NUM_THREADS", "None")
    for name in ("a", "b"):
        t0, t1 = spans[name][:2]
        assert t1 <= s0 or t0 >= s1, f"{name} ran beside the alone step"
    lanes = regenerate.schedule(steps, 2)
    assert sum(len(lane) for lane in lanes) == 3


@pytest.mark.parametrize("page", ["benchmarks.md", "experiments.md", "changes.md"])
def test_the_pages_name_no_folder_of_the_machine_that_wrote_them(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    found = re.findall(r"(?<![\w.])/(?:tmp|work|home|root|Users|var/folders)/[^\s`)]*", text)
    assert not found, f"docs/{page} names machine paths: {found[:5]}"


def test_filled_paths_inside_the_repository_are_relative() -> None:
    assert regenerate._shown(ROOT / "runs" / "regenerate" / "data") == "runs/regenerate/data"
    assert regenerate._shown(Path("/elsewhere/x")) == "/elsewhere/x"

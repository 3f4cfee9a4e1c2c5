"""The public API type-checks: mypy (configured in pyproject.toml, ``[tool.mypy]``) reports no error on ``src/``.

Runs mypy in a subprocess over every file of ``src/`` (skipped when mypy is not installed: ``pip install
-e .[test]``); any error in any file fails the test.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

ERROR = re.compile(r"^(?P<path>[^:\s][^:]*\.py):(?P<line>\d+): error: (?P<message>.*)$")
CHECKED = re.compile(r"(?:in|checked) (?P<n>\d+) source files?\)?$")


def run_mypy() -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it comes with the test extra: pip install -e .[test])")
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--no-pretty", "--no-color-output"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_mypy_clean() -> None:
    proc = run_mypy()
    lines = proc.stdout.splitlines()
    assert proc.returncode in (0, 1), f"mypy failed to run (status {proc.returncode}):\n{proc.stdout}{proc.stderr}"
    summary = CHECKED.search(lines[-1]) if lines else None
    assert summary is not None, f"no mypy summary line:\n{proc.stdout}{proc.stderr}"
    n_files = sum(1 for _ in SRC.rglob("*.py"))
    assert int(summary["n"]) == n_files, f"mypy checked {summary['n']} files, src/ holds {n_files}"
    errors = [m for m in map(ERROR.match, lines) if m]
    assert (proc.returncode == 0) == (not errors), f"mypy status {proc.returncode} with output:\n{proc.stdout}"
    assert not errors, f"{len(errors)} mypy errors in src/:\n" + "\n".join(m.group(0) for m in errors)


def test_error_pattern_reads_mypy_lines() -> None:
    m = ERROR.match('src/decepticons/predictor.py:12: error: Name "x" is not defined  [name-defined]')
    assert m is not None and m["path"] == "src/decepticons/predictor.py" and m["line"] == "12"
    assert ERROR.match("src/decepticons/predictor.py:12: note: See the docs") is None

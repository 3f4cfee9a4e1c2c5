"""Helpers of the hardening tests: hostile files written through the package's own writers (so every
checksum and fingerprint passes), and the command line run in a fresh interpreter under a memory limit.

:func:`run_cli` imports the command line (and, with ``torch=True``, torch) first, then limits the address
space to what it uses plus ``mem`` bytes (``RLIMIT_AS``), so a case that tries to allocate far more fails
with a ``MemoryError`` traceback (exit status 1) instead of passing; the expected outcome is exit status 2
with one ``error:`` line, within ``timeout`` seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decepticons.runtime.checkpoints import save_model_file

SRC = str(Path(__file__).resolve().parents[1] / "src")
LINUX = sys.platform.startswith("linux")
HAS_TORCH = find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs torch")


def resave(path: Path, kind: str, config: dict[str, Any], tensors: dict[str, np.ndarray],
           extra: dict[str, Any] | None = None) -> Path:
    """A model file holding exactly ``config`` and ``tensors``, valid for every integrity check."""
    save_model_file(path, kind, config, tensors, extra)
    return path


def model_parts(model: Any) -> tuple[str, dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """``(kind, config, tensors, extra)`` as ``model.save`` would write them (copies, ready to edit)."""
    return (model.name, dict(model.config_dict()), {k: np.array(v) for k, v in model.state_tensors().items()},
            dict(model.extra_state()))


def run_cli(args: list[str], mem: int = 768 << 20, timeout: float = 120.0, torch: bool = False,
            stdin: bytes | None = None, prelude: str = "") -> subprocess.CompletedProcess:
    """``decepticons ARGS`` in a fresh interpreter limited to its imports plus ``mem`` bytes of address space;
    the result has ``seconds`` (wall clock). ``prelude`` runs before the imports (e.g. to hide a module)."""
    script = textwrap.dedent(f"""
        import resource, sys
        {prelude}
        import numpy
        import decepticons.cli
        {"import torch" if torch else ""}
        if {mem!r}:
            size = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:")][0]
            resource.setrlimit(resource.RLIMIT_AS, (size + {mem!r}, resource.RLIM_INFINITY))
        sys.exit(decepticons.cli.main(sys.argv[1:]))
    """)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, timeout=timeout, input=stdin,
                       env={**os.environ, "PYTHONPATH": SRC})
    out = subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(errors="replace"),
                                      r.stderr.decode(errors="replace"))
    out.seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    return out


def assert_user_error(r: subprocess.CompletedProcess, *needles: str, seconds: float = 60.0) -> str:
    """Exit status 2, no traceback, standard error ending in the one ``error:`` line, which names every needle,
    within ``seconds``; returns that line."""
    err = r.stderr.strip()
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    lines = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err and len(lines) == 1 and err.endswith(lines[0]), err
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    assert r.seconds < seconds, f"took {r.seconds:.1f} s"  # type: ignore[attr-defined]
    return lines[0]


def run_py(body: str, mem: int = 768 << 20, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Python ``body`` in a fresh interpreter (numpy and decepticons imported, then the address space limited
    to their use plus ``mem`` bytes); the result has ``seconds``."""
    script = textwrap.dedent(f"""
        import resource, sys
        import numpy as np
        import decepticons
        size = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:")][0]
        resource.setrlimit(resource.RLIMIT_AS, (size + {mem}, resource.RLIM_INFINITY))
    """) + textwrap.dedent(body)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "PYTHONPATH": SRC})
    r.seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    return r

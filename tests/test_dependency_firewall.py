"""Dependency firewall.

* ``decepticons`` never imports its descendant ``plato_mythos`` (an AST scan of every source file: ``import``,
  ``from ... import``, and ``importlib.import_module`` / ``__import__`` with a literal name).
* ``import decepticons`` pulls in no torch, mlx or other heavy optional package, and neither does any module of
  the numpy kernel (everything outside the torch / MLX backends, :data:`BACKENDS`), checked in fresh
  interpreters.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import decepticons

PACKAGE_DIR = Path(decepticons.__file__).parent
SOURCES = sorted(PACKAGE_DIR.rglob("*.py"))
FORBIDDEN_DESCENDANT = "plato_mythos"
HEAVY = ("torch", "mlx")
#: the torch / MLX backends (packages by prefix, single modules by name); every other module is the numpy kernel
BACKENDS = ("decepticons.training", "decepticons.causal_bank.model_torch", "decepticons.causal_bank.model_mlx",
            "decepticons.causal_bank.scans", "decepticons.causal_bank.scans_mlx", "decepticons.causal_bank.predictor",
            "decepticons.causal_bank.predictor_mlx", "decepticons.transformer.model",
            "decepticons.transformer.predictor")


def _is_backend(name: str) -> bool:
    return any(name == b or name.startswith(b.rstrip(".") + ".") for b in BACKENDS)


def _imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """Absolute module names a source file imports, with line numbers."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("import_module", "__import__"):
                out.append((node.lineno, node.args[0].value))
    return out


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_the_scan_sees_the_whole_package():
    names = {_module_name(p) for p in SOURCES}
    assert {"decepticons", "decepticons.predictor", "decepticons.cli", "decepticons.registry",
            "decepticons.runtime.checkpoints", "decepticons.data"} <= names


def test_the_scan_would_catch_every_import_form():
    src = textwrap.dedent("""
        import plato_mythos
        import os, plato_mythos.model as pm
        from plato_mythos import PlatoMythos
        from plato_mythos.config import X
        import importlib
        importlib.import_module("plato_mythos.predictor")
        __import__("plato_mythos")
        from . import plato_mythos_like  # relative: not the descendant
    """)
    hits = [n for _, n in _imported_names(ast.parse(src)) if n.split(".")[0] == FORBIDDEN_DESCENDANT]
    assert len(hits) == 6


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_kernel_never_imports_plato_mythos(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [(line, name) for line, name in _imported_names(tree) if name.split(".")[0] == FORBIDDEN_DESCENDANT]
    assert not bad, f"{path} imports the descendant package: {bad}"


def _run(code: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


_PROBE = """
import json, sys
{body}
print(json.dumps({{m: m in sys.modules for m in {mods!r}}}))
"""


def test_import_decepticons_is_light():
    mods = [*HEAVY, "numba", "matplotlib", "scipy", FORBIDDEN_DESCENDANT]
    loaded = _run(_PROBE.format(body="import decepticons\ndecepticons.available_models()", mods=mods))
    assert not any(loaded.values()), f"`import decepticons` imported {[m for m, v in loaded.items() if v]}"


def test_cli_import_and_info_stay_light():
    body = "from decepticons.cli import main\nmain(['info', '--json'])"
    loaded = _run(_PROBE.format(body=body, mods=[*HEAVY, FORBIDDEN_DESCENDANT]))
    assert not any(loaded.values()), f"the CLI imported {[m for m, v in loaded.items() if v]}"


def test_the_coder_does_not_import_torch():
    try:
        import importlib.util

        found = importlib.util.find_spec("decepticons.coder") is not None
    except ImportError:
        found = False
    if not found:
        pytest.skip("decepticons.coder is not in this tree")
    body = "import decepticons.coder\nfrom decepticons import ByteLatentPredictiveCoder"
    loaded = _run(_PROBE.format(body=body, mods=[*HEAVY, FORBIDDEN_DESCENDANT]))
    assert not any(loaded.values()), f"decepticons.coder imported {[m for m, v in loaded.items() if v]}"


def test_no_numpy_kernel_module_imports_torch_or_mlx():
    # ``__main__`` runs the command line when imported: it is the CLI, covered by the test above
    kernel = sorted(n for n in map(_module_name, SOURCES) if not _is_backend(n) and not n.endswith(".__main__"))
    code = "import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in kernel)
    loaded = _run(_PROBE.format(body=code, mods=list(HEAVY)))
    if not any(loaded.values()):
        return
    culprits = []  # find which modules do it, one fresh interpreter each
    for n in kernel:
        one = _run(_PROBE.format(body=f"import importlib\nimportlib.import_module({n!r})", mods=list(HEAVY)))
        if any(one.values()):
            culprits.append(n)
    pytest.fail(f"numpy-kernel modules that import torch or mlx: {culprits}")

"""The source tree stays legible: small files, no import cycles, no empty packages, and an architecture
document that names only modules that exist and every registered model."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """Absolute names of the project modules an import statement reaches (any nesting, lazy ones too)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
    hits = []
    for n in names:
        while n and n not in MODULES:
            n = n.rpartition(".")[0]
        if n and n.split(".")[0] in ("decepticons", "plato_mythos"):
            hits.append(n)
    return hits


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(_resolve(mod, node, path.name == "__init__.py"))
        # a module importing its own package's __init__ (or a parent package) is not a cycle edge of interest
        graph[mod] = {d for d in deps if d != mod and not mod.startswith(d + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_among_source_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (counting imports inside functions): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_no_source_file_over_the_limit(mod):
    n = len(MODULES[mod].read_text().splitlines())
    assert n <= MAX_LINES, f"{MODULES[mod].relative_to(ROOT)} has {n} lines (limit {MAX_LINES}): split it"


def test_no_empty_packages():
    empty = []
    for path in SRC.rglob("__init__.py"):
        pkg = path.parent
        others = [p for p in pkg.iterdir() if p.name != "__init__.py" and p.name != "__pycache__"
                  and (p.suffix == ".py" or (p / "__init__.py").exists() or p.suffix in (".xz", ".typed"))]
        body = [n for n in ast.parse(path.read_text()).body
                if not (isinstance(n, ast.Expr) and isinstance(getattr(n, "value", None), ast.Constant))]
        if not others and not body:
            empty.append(str(pkg.relative_to(SRC)))
    assert not empty, f"empty packages: {empty}"


ARCH = ROOT / "docs" / "architecture.md"


def _named_modules(text: str) -> set[str]:
    """Dotted module names and ``src/...py`` paths written in the document."""
    names = set(re.findall(r"`((?:decepticons|plato_mythos)(?:\.[a-z_0-9]+)+)`", text))
    names |= set(re.findall(r"`((?:decepticons|plato_mythos)(?:\.[a-z_0-9]+)+):[A-Za-z_]+`", text))
    for p in re.findall(r"src/((?:decepticons|plato_mythos)/[a-z_0-9/]+)\.py", text):
        names.add(p.replace("/", ".").removesuffix(".__init__"))
    return names


def test_architecture_names_only_existing_modules():
    text = ARCH.read_text()
    missing = []
    for name in sorted(_named_modules(text)):
        if name in MODULES:
            continue
        parent = name.rpartition(".")[0]  # `decepticons.mod.Symbol` is fine when the module exists
        if parent in MODULES:
            continue
        missing.append(name)
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_architecture_lists_every_registered_model():
    from decepticons.registry import available_models

    text = ARCH.read_text()
    absent = [m for m in available_models() if f"`{m}`" not in text]
    assert not absent, f"docs/architecture.md does not mention registered model(s) {absent}"


def test_architecture_layout_tree_matches_the_source_folders():
    """Every package folder under src/ appears in the layout section, and every folder listed there exists."""
    text = ARCH.read_text()
    layout = text[text.index("## Layout"):]
    listed = set(re.findall(r"^\s+([a-z_0-9]+)/", layout, flags=re.M))
    mentioned = set(re.findall(r"([a-z_0-9]+)/", layout))
    actual = {p.parent.name for p in (SRC / "decepticons").rglob("__init__.py") if p.parent != SRC / "decepticons"}
    assert actual <= mentioned, f"packages missing from the layout in docs/architecture.md: {sorted(actual - listed)}"
    assert listed <= actual | {"decepticons", "plato_mythos", "tests", "benchmarks", "examples", "docs"}, \
        f"layout names folders that do not exist: {sorted(listed - actual)}"

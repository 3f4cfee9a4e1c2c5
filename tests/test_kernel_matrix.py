"""docs/kernel_matrix.md is checked against the code: every public name imports from its module, every named
test exists, and every named benchmark section is in docs/benchmarks.md or docs/experiments.md."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "docs" / "kernel_matrix.md"
#: the seed's kernel-table areas; each must have at least one row
AREAS = ("Substrates", "Control", "Memory", "Views", "Readouts", "Adapters", "Runtime", "Causal-bank family",
         "Backends", "Descendants")
OPTIONAL_MODULES = {"decepticons.causal_bank.model_torch": "torch", "decepticons.causal_bank.model_mlx": "mlx",
                    "decepticons.causal_bank.scans_mlx": "mlx", "decepticons.causal_bank.predictor_mlx": "mlx",
                    "decepticons.training.mlx_step": "mlx",
                    "plato_mythos": "torch"}


def rows() -> list[dict[str, str]]:
    out = []
    for line in MATRIX.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("area", "") or set(cells[0]) <= {"-"}:
            continue
        area, item, module, name, test, bench = cells
        out.append({"area": area, "item": item, "module": module.strip("`"), "name": name.strip("`"),
                    "test": test.strip("`"), "bench": bench.strip("`")})
    return out


ROWS = rows()


def test_every_area_has_rows_and_every_row_is_complete():
    assert len(ROWS) >= 40
    assert {r["area"] for r in ROWS} >= set(AREAS), set(AREAS) - {r["area"] for r in ROWS}
    for r in ROWS:
        assert r["module"] and r["name"] and "::" in r["test"], r


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['area']}:{r['item']}" for r in ROWS])
def test_row_names_import_and_tests_exist(row):
    extra = OPTIONAL_MODULES.get(row["module"])
    if extra is not None:
        pytest.importorskip(extra)
    mod = importlib.import_module(row["module"])
    assert hasattr(mod, row["name"]), f"{row['module']} has no {row['name']}"
    path, func = row["test"].split("::")
    test_file = ROOT / path
    assert test_file.is_file(), path
    defined = {n.name for n in ast.walk(ast.parse(test_file.read_text())) if isinstance(n, ast.FunctionDef)}
    assert func in defined, f"{path} defines no {func}"


def test_benchmark_sections_exist():
    text = "".join((ROOT / "docs" / page).read_text() for page in ("benchmarks.md", "experiments.md"))
    sections = set(re.findall(r"<!-- BEGIN ([\w-]+) -->", text))
    missing = {r["bench"] for r in ROWS if r["bench"] != "-"} - sections
    assert not missing, f"docs/benchmarks.md and docs/experiments.md have no section {sorted(missing)}"

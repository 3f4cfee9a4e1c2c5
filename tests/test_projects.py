"""The descendant projects in examples/projects/ run on tiny data through the public API only, and their
results say what their READMEs claim."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "examples" / "projects"
EXPECTED = ("causal", "oracle", "bridge", "noncausal", "byte_latent")


def run_project(name: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, str(PROJECTS / name / "run.py"), "--tiny", "--json"], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def present() -> list[str]:
    return sorted(p.name for p in PROJECTS.iterdir() if (p / "run.py").is_file())


def test_every_descendant_shape_has_a_project():
    assert set(present()) >= set(EXPECTED), set(EXPECTED) - set(present())


@pytest.mark.parametrize("name", present())
def test_project_uses_only_the_public_api_and_has_a_readme(name):
    readme = PROJECTS / name / "README.md"
    assert readme.is_file() and "Measured" in readme.read_text(), f"{name}: README with a measured result"
    tree = ast.parse((PROJECTS / name / "run.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            assert not any(part.startswith("_") for part in node.module.split(".")), node.module
            assert all(not a.name.startswith("_") for a in node.names), [a.name for a in node.names]


def test_byte_latent_project():
    out = run_project("byte_latent")
    models = out["models"]
    for r in models.values():
        assert 0 < r["valid_bits_per_byte"] < 8
    assert models["byte-latent view"]["features"] > models["state view (default)"]["features"]
    p = out["patches"]
    # the learned segmenter tracks its target patch rate within its length limits
    assert abs(p["mean_length"] - p["target_length"]) < 1.0
    assert p["count"] > out["valid_bytes"] / 10
    assert out["patched_text"].count("|") > 10
    assert out["compressed_head"]["file_bytes"] < out["compressed_head"]["bytes"]
    assert out["generated"].startswith("ROMEO.")


def test_causal_project():
    out = run_project("causal")
    rows = out["rows"]
    assert all(0 < v < 8 for v in rows.values())
    assert out["reload_identical"] and out["round_trip"]
    # the real file costs what was scored plus its header (a few dozen bytes on 5 KB)
    assert 0 <= out["compressed_bits_per_byte"] - out["scored_bits_per_byte"] < 0.15
    # composition never costs more than a little over the mixer alone, and beats every component alone
    assert rows["causal-adapter (mixer + ngram + coder)"] <= rows["mixer alone"] + 0.01
    assert rows["causal-adapter (mixer + ngram + coder)"] < min(rows["ngram alone"], rows["coder alone"])


def test_oracle_project():
    out = run_project("oracle")
    assert out["oracle_bits_per_byte"] < out["causal_bits_per_byte"] - 0.3  # the right context helps a lot
    assert out["per_class"]["letter"]["gap"] > 0 and out["per_class"]["space"]["bytes"] > 0
    assert 0 < out["determined"]["p>=0.99"] <= out["determined"]["p>=0.9"] <= out["determined"]["p>=0.5"] < 1
    assert all(msg and "non-causal" in msg for msg in out["refusals"].values()), out["refusals"]


def test_noncausal_project():
    out = run_project("noncausal")
    one = out["lengths"]["1"]
    assert one["bits_per_masked_byte"] < one["causal_bits_per_masked_byte"]
    assert one["span_accuracy"] > one["causal_span_accuracy"]
    for r in out["lengths"].values():
        assert r["bits_per_masked_byte"] <= r["causal_bits_per_masked_byte"] + 1e-9
    assert out["example"]["same_as_unblanked"]


def test_bridge_project():
    out = run_project("bridge")
    b = out["bridge"]
    assert b["rows"] == out["train_bytes"] and b["top_k"] == 16 and out["other_corpus_refused"]
    assert 0 < b["teacher_bits_per_byte"] < 8
    alone, taught = out["students"]["bytes alone"], out["students"]["with the teacher"]
    for r in (alone, taught):
        assert 0 < r["student_bits_per_byte"] < 8.5 and 0 <= r["teacher_top1_agreement"] <= 1
    # the soft targets pull the student towards the teacher
    assert taught["teacher_kl_bits"] < alone["teacher_kl_bits"]

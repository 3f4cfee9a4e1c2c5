"""examples/tutorial.py runs as a user would (``--tiny``, into a fresh folder) and writes what its prose says:
a trace file that reads back, a compressed file that decompresses to the held-out bytes, a comparison page,
and finite bits-per-byte figures in range."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "examples" / "tutorial.py"
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("tutorial") / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, str(TUTORIAL), "--tiny", "--output", str(out)], capture_output=True,
                       text=True, env=env, timeout=600, cwd=out.parent)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    return out, json.loads((out / "summary.json").read_text()), r.stdout


def test_writes_its_files(run):
    out, summary, _ = run
    for name in ("trace.safetensors", "valid.dcx", "valid.out", "compare.html", "summary.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "trace.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"], "everything goes into --output"


def test_bits_per_byte_are_finite_and_in_range(run):
    _, s, _ = run
    assert s["tiny"] is True and s["train_bytes"] == 60_000 and s["valid_bytes"] == 10_000
    for key in ("coder_bits_per_byte", "trace_bits_per_byte", "mixer_bits_per_byte", "file_bits_per_byte"):
        assert math.isfinite(s[key]) and 0.5 < s[key] < 8.0, (key, s[key])
    # the trace is the same scoring as score(), record by record (float32 columns: a small tolerance)
    assert s["trace_bits_per_byte"] == pytest.approx(s["coder_bits_per_byte"], rel=1e-6)
    # the compressed file costs the ideal code length plus the header and the coder's last words
    assert s["file_bits_per_byte"] >= s["mixer_bits_per_byte"]
    assert 8 * s["compressed_bytes"] <= s["mixer_bits_per_byte"] * s["valid_bytes"] + 8 * (46 + 64)
    # the worst bytes are sorted and cost more than the average byte
    worst = s["worst_bits"]
    assert len(worst) == 8 and worst == sorted(worst, reverse=True) and worst[-1] > s["coder_bits_per_byte"]
    assert 0.0 <= s["confident_fraction"] <= 1.0
    # real text: the mixer beats the coder's count view, both far below a uniform guess
    assert s["mixer_bits_per_byte"] < s["coder_bits_per_byte"] < 4.0


def test_round_trip(run):
    out, s, stdout = run
    from decepticons.data import embedded_corpus

    valid = embedded_corpus()[1][:10_000]
    assert s["round_trip"] is True and "round trip ok" in stdout
    assert np.array_equal(np.frombuffer((out / "valid.out").read_bytes(), np.uint8), valid)
    assert (out / "valid.dcx").stat().st_size == s["compressed_bytes"]


def test_trace_file_reads_back(run):
    out, s, _ = run
    from decepticons.runtime import read_trace

    tr = read_trace(out / "trace.safetensors")
    assert tr.kind == "coder" and tr.bytes == 10_000
    assert tr.bits_per_byte == pytest.approx(s["trace_bits_per_byte"])
    assert sorted(tr.columns["bits"].astype(np.float64), reverse=True)[:8] == pytest.approx(s["worst_bits"])


def test_compare_page_and_the_trained_bank(run):
    out, s, _ = run
    page = (out / "compare.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" in page
    assert "http://" not in page and "https://" not in page, "the page works offline"
    c = s["compare"]
    assert c["models"][0] == "coder" and 0.0 <= c["first_wins_fraction"] <= 1.0
    assert c["bits_per_byte"][0] == pytest.approx(s["coder_bits_per_byte"], rel=1e-6)
    if HAS_TORCH:
        assert c["models"][1] == "causal-bank"
        assert math.isfinite(s["bank_bits_per_byte"]) and 0.5 < s["bank_bits_per_byte"] < 8.0
        assert c["bits_per_byte"][1] == pytest.approx(s["bank_bits_per_byte"], rel=1e-6)
    else:
        assert c["models"][1] == "mixer" and "bank_bits_per_byte" not in s

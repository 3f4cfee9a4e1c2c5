"""Bit-level context mixing (``cm``) against the mixer and paq8px -8 (section "cm" of docs/benchmarks.md).

Rows: Shakespeare valid primed (fit on train, valid scored adaptively) and alone (an untrained model), the
first 300 KB of the ``python-source`` corpus alone and the first 300 KB of the ``rst-docs`` corpus alone
(both fetched by ``decepticons.data``). paq8px -8 is a row when ``paq8px`` is on PATH ("primed" = size of
train + valid minus size of train); its figures can be cached across runs in a JSON file keyed by the
sha256 of its input (``--paq-cache``), since it runs at a few KB/s.

Then: a real compress/decompress round trip (the bitwise payload of ``decepticons.coding``) of Shakespeare
valid with the primed cm (KB/s by wall clock and by CPU time, the file's size against the scored bits) and
the same for the mixer; an ablation table (each stage added to the one before, on a quick set: 512 KB
of train then 100 KB of valid, 100 KB of valid alone, 150 KB of each other corpus alone; KB/s of scoring in
CPU time), and the presets on the same quick set.

    python benchmarks/bench_cm.py [--root DATA_DIR] [--paq-cache paq.json] [--skip-paq] [--skip-mixer]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402
from decepticons.cm.config import DEFAULT_CONTEXTS  # noqa: E402

ALONE_BYTES = 300_000
QUICK = dict(train=1 << 19, valid=100_000, other=150_000)

#: each stage adds to the one before (the last is the default model)
STAGES: list[tuple[str, dict[str, Any]]] = [
    ("orders 1-4, direct bit probabilities, one mixer", dict(contexts=("o1", "o2", "o3", "o4"), mixers=1,
                                                            apm_rate=0.0, match_min=0, confidence=False,
                                                            runs=False)),
    ("+ orders 5-7", dict(contexts=("o1", "o2", "o3", "o4", "o5", "o6", "o7"))),
    ("+ word, word pair", dict(contexts=("o1", "o2", "o3", "o4", "o5", "o6", "o7", "word", "word2"))),
    ("+ sparse, column, indentation", dict(contexts=("o1", "o2", "o3", "o4", "o5", "o6", "o7", "word", "word2",
                                                      "sparse", "column", "indent"))),
    ("+ indirect (what followed the last two bytes before)", dict(contexts=DEFAULT_CONTEXTS)),
    ("+ match model", dict(match_min=6)),
    ("+ bit-history state maps", dict(confidence=True)),
    ("+ run inputs (last byte per context)", dict(runs=True)),
    ("+ 3 mixers (by node, by seen/match/depth, by last byte) and a second layer", dict(mixers=3)),
    ("+ 2 APMs (by node, by node and last byte)", dict(apm_rate=0.02)),
]


def _read(path: Path, n: int | None = None) -> bytes:
    b = path.read_bytes()
    return b if n is None else b[:n]


def _paq(data: bytes, cache: dict[str, Any]) -> tuple[int, float]:
    """``(compressed bytes, seconds)`` of ``paq8px -8`` on ``data`` (cached by sha256)."""
    key = hashlib.sha256(data).hexdigest()
    if key in cache:
        return cache[key]["bytes"], cache[key]["seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.txt"
        src.write_bytes(data)
        t0 = time.perf_counter()
        subprocess.run(["paq8px", "-8", str(src), str(src) + ".paq8px"], check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        size = os.path.getsize(str(src) + ".paq8px")
    cache[key] = {"bytes": size, "seconds": seconds}
    return size, seconds


def _cm(**options: Any) -> Any:
    from decepticons.cm import CMPredictor

    return CMPredictor(**options)


def _bpb(model: Any, train: bytes | None, x: bytes) -> tuple[float, float]:
    """Bits/byte of ``x`` (after fitting on ``train`` when given) and scoring KB/s in CPU time."""
    if train is not None:
        model.fit(train)
    t0 = time.process_time()
    bpb = model.score(x).bits_per_byte
    return bpb, len(x) / max(1e-9, time.process_time() - t0) / 1e3


def _round_trip(model: Any, x: bytes) -> dict[str, float]:
    from decepticons.coding.codec import HEADER_BYTES, compress, decompress
    from decepticons.predictor import LN2

    arr = np.frombuffer(x, dtype=np.uint8)
    # a warm-up round trip of the first 4 KB first: it compiles the coding kernels (numba caches them on disk,
    # so only the first use after an install pays this), which is not the speed of coding
    w0 = time.perf_counter()
    if not np.array_equal(decompress(model, compress(model, arr[:4096])), arr[:4096]):
        raise SystemExit("warm-up round trip failed")
    warm = time.perf_counter() - w0
    t0, c0 = time.perf_counter(), time.process_time()
    blob = compress(model, arr)
    t1, c1 = time.perf_counter(), time.process_time()
    back = decompress(model, blob)
    t2, c2 = time.perf_counter(), time.process_time()
    if not np.array_equal(back, arr):
        raise SystemExit("round trip failed")
    scored = -float(model.target_log_probs(arr).sum()) / LN2
    coded = 8.0 * (len(blob) - HEADER_BYTES)
    return {"compress_kbps": len(x) / (t1 - t0) / 1e3, "decompress_kbps": len(x) / (t2 - t1) / 1e3,
            "compress_cpu_kbps": len(x) / (c1 - c0) / 1e3, "decompress_cpu_kbps": len(x) / (c2 - c1) / 1e3,
            "file_bpb": 8.0 * len(blob) / len(x), "excess_pct": 100.0 * (coded - scored) / scored,
            "warmup_s": warm}


def _command(args: argparse.Namespace) -> str:
    """The command line without the values of path options (no machine paths in the docs)."""
    words = command_line().split()[:2]
    words += [f"--{k.replace('_', '-')} {k.upper()}" for k in ("root", "paq_cache") if getattr(args, k)]
    words += [f"--{k.replace('_', '-')}" for k in ("skip_paq", "skip_mixer") if getattr(args, k)]
    return " ".join(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", help="folder holding each corpus in ROOT/NAME (default: the cache of decepticons.data)")
    ap.add_argument("--paq-cache", help="JSON file caching paq8px figures by input digest")
    ap.add_argument("--skip-paq", action="store_true")
    ap.add_argument("--skip-mixer", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only, do not write docs/benchmarks.md")
    args = ap.parse_args()

    from decepticons.data import corpus_files
    from decepticons.registry import model_class

    def files(name: str) -> dict[str, Path]:
        return corpus_files(name, Path(args.root) / name if args.root else None)

    sh, py, rst = files("shakespeare"), files("python-source"), files("rst-docs")
    train, valid = _read(sh["train"]), _read(sh["valid"])
    pysrc, rstsrc = _read(py["train"], ALONE_BYTES), _read(rst["train"], ALONE_BYTES)
    cases = [("Shakespeare valid, primed with train", train, valid),
             ("Shakespeare valid, alone", None, valid),
             (f"python-source, first {ALONE_BYTES // 1000} KB, alone", None, pysrc),
             (f"rst-docs, first {ALONE_BYTES // 1000} KB, alone", None, rstsrc)]

    paq = shutil.which("paq8px") and not args.skip_paq
    cache: dict[str, Any] = {}
    if args.paq_cache and Path(args.paq_cache).exists():
        cache = json.loads(Path(args.paq_cache).read_text())
    rows = []
    primed: dict[str, Any] = {}  # the models fitted on train, reused for the round trips
    for label, tr, x in cases:
        row: dict[str, Any] = {"data": label, "bytes": len(x)}
        models = {"cm": _cm()}
        if not args.skip_mixer:
            models["mixer"] = model_class("mixer")()
        for name, model in models.items():
            row[name], _ = _bpb(model, tr, x)
            if tr is not None:
                primed[name] = model
        if paq:
            size, _ = _paq(x, cache)
            if tr is not None:
                size = _paq(tr + x, cache)[0] - _paq(tr, cache)[0]
            row["paq8px"] = 8.0 * size / len(x)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.paq_cache and paq:
        Path(args.paq_cache).write_text(json.dumps(cache, indent=1))

    trip = {name: _round_trip(model, valid) for name, model in primed.items()}
    primed.clear()
    print(json.dumps(trip), flush=True)

    qtrain, qvalid = train[:QUICK["train"]], valid[:QUICK["valid"]]
    quick = [(qtrain, qvalid), (None, qvalid), (None, pysrc[:QUICK["other"]]), (None, rstsrc[:QUICK["other"]])]

    def quick_row(options: dict[str, Any]) -> dict[str, float]:
        figs, speeds = [], []
        for tr, x in quick:
            b, s = _bpb(_cm(**options), tr, x)
            figs.append(b)
            speeds.append(s)
        return {"primed": figs[0], "alone": figs[1], "python": figs[2], "rst": figs[3],
                "mean": float(np.mean(figs)), "kbps": float(np.mean(speeds))}

    ablation, options = [], {}
    for name, change in STAGES:
        options = {**options, **change}
        ablation.append({"stage": name, **quick_row(options)})
        print(json.dumps(ablation[-1]), flush=True)
    presets = []
    for preset in ("fast", "default", "max"):
        r = quick_row({"preset": preset})
        m = _cm(preset=preset)
        m.fit(qtrain)
        r.update(_round_trip(m, qvalid))
        presets.append({"preset": preset, **r})
        print(json.dumps(presets[-1]), flush=True)

    md = ["## cm: the bit-level context mixer against the mixer and paq8px -8", "",
          f"Commit `{git_rev()}`; {machine()}.", "", f"    {_command(args)}", "",
          "Bits per byte (lower is better); every model adaptive (it learns while it scores, as a compressor).", "",
          "| data | bytes | cm | mixer | paq8px -8 |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['data']} | {r['bytes']:,} | **{r['cm']:.4f}** | "
                  + (f"{r['mixer']:.4f}" if "mixer" in r else "-") + " | "
                  + (f"{r['paq8px']:.4f}" if "paq8px" in r else "not on PATH") + " |")
    if paq:
        md += ["", "paq8px -8 (an external baseline on PATH, never a dependency; about 6-8 KB/s and 2 GB of memory "
               "here) compresses each input alone; primed = size(train + valid) - size(train). With `--paq-cache` its "
               "figures are reused across runs (keyed by the sha256 of each input)."]
    md += ["", "Real files (`decepticons.coding.compress` / `decompress` of Shakespeare valid with the model fitted "
           "on train; round trip checked; KB/s by wall clock and by CPU time of this process (the machine may be "
           "shared), after a warm-up round trip of the first 4 KB; warm-up: its wall seconds, which include "
           "compiling the coding kernels when the on-disk cache of numba is cold, as on the first use after an "
           "install; excess: coded payload against the scored bits):", "",
           "| model | compress KB/s (wall / CPU) | decompress KB/s (wall / CPU) | file bits/byte | excess "
           "| warm-up s |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, t in trip.items():
        md.append(f"| {name} | {t['compress_kbps']:.1f} / {t['compress_cpu_kbps']:.1f} | "
                  f"{t['decompress_kbps']:.1f} / {t['decompress_cpu_kbps']:.1f} | {t['file_bpb']:.4f} | "
                  f"{t['excess_pct']:+.3f}% | {t.get('warmup_s', float('nan')):.1f} |")
    md += ["", "Ablation (quick set: primed = 512 KB of train then 100 KB of valid; alone = 100 KB of valid; python "
           "and rst = 150 KB of each, alone; each stage adds to the row above; KB/s: scoring, CPU time, mean "
           "over the four):", "",
           "| stage | primed | alone | python | rst | mean | delta mean | KB/s | delta KB/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    prev: dict[str, float] | None = None
    for a in ablation:
        dm = f"{a['mean'] - prev['mean']:+.4f}" if prev else ""
        dk = f"{a['kbps'] - prev['kbps']:+.1f}" if prev else ""
        md.append(f"| {a['stage']} | {a['primed']:.4f} | {a['alone']:.4f} | {a['python']:.4f} | {a['rst']:.4f} | "
                  f"{a['mean']:.4f} | {dm} | {a['kbps']:.1f} | {dk} |")
        prev = a
    md += ["", "Presets (same quick set; compress/decompress: a real round trip of the 100 KB of valid after "
           "512 KB of train; CPU time):", "",
           "| preset | mean bits/byte | primed | scoring KB/s (CPU) | compress KB/s (CPU) | decompress KB/s (CPU) |",
           "|---|---:|---:|---:|---:|---:|"]
    for p in presets:
        md.append(f"| {p['preset']} | {p['mean']:.4f} | {p['primed']:.4f} | {p['kbps']:.1f} | "
                  f"{p['compress_cpu_kbps']:.1f} | {p['decompress_cpu_kbps']:.1f} |")
    text = "\n".join(md) + "\n"
    print(text)
    if not args.no_write:
        write_section("cm", text)


if __name__ == "__main__":
    main()

"""Compression benchmark: the memories and the mixer against standard compressors (section "compression").

Every model is fitted on train and scores valid prequentially (it keeps learning while it scores, as a
compressor does). Baselines compress valid alone and "primed" (size(train + valid) - size(train)), so
they too may use train as context. The mixer additionally writes a real compressed file of valid with
``decepticons.coding.compress``, which is decompressed and checked; its size is compared with the scored
figure. Peak memory is the maximum resident set size of the child process that runs the mixer.

    python benchmarks/bench_compression.py \
        --train /path/train.txt --valid /path/valid.txt
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402


def _baselines(train: bytes, valid: bytes) -> list[dict]:
    import brotli
    import pyppmd
    import zstandard

    comps = {
        "gzip -9": lambda b: gzip.compress(b, compresslevel=9, mtime=0),
        "bzip2 -9": lambda b: bz2.compress(b, 9),
        "xz -9e": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
        "zstd -22": lambda b: zstandard.ZstdCompressor(level=22).compress(b),
        "brotli 11": lambda b: brotli.compress(b, quality=11),
        "PPMd order 8 (pyppmd, 256 MB)": lambda b: pyppmd.compress(b, max_order=8, mem_size=256 << 20),
    }
    rows = []
    for name, fn in comps.items():
        t0 = time.perf_counter()
        alone = len(fn(valid))
        seconds = time.perf_counter() - t0
        primed = len(fn(train + valid)) - len(fn(train))
        rows.append({"name": name, "alone_bpb": 8 * alone / len(valid), "primed_bpb": 8 * primed / len(valid),
                     "kbps": len(valid) / seconds / 1e3})
        print(f"{name:32s} alone {rows[-1]['alone_bpb']:.4f}  primed {rows[-1]['primed_bpb']:.4f}", flush=True)
    return rows


def _memories(train: np.ndarray, valid: np.ndarray) -> list[dict]:
    from decepticons.memory import BackoffPredictor, ExactContextPredictor, NGramPredictor, OnlineNGramPredictor

    models = {
        "exact-context order 3": ExactContextPredictor(order=3),
        "ngram orders 1-6": NGramPredictor(orders=6),
        "backoff orders 1-5 (EM weights)": BackoffPredictor(orders=5),
        "online-ngram orders 1-5 (halving at 255, primed)": OnlineNGramPredictor(orders=5),
        "online-ngram orders 1-5 (unprimed: valid only)": OnlineNGramPredictor(orders=5, prime=False),
    }
    rows = []
    for name, m in models.items():
        fit = m.fit(train)
        rep = m.score(valid)
        rows.append({"name": name, "bpb": rep.bits_per_byte, "fit_s": fit.seconds, "score_kbps":
                     rep.bytes_per_second / 1e3, "adaptive": rep.adaptive})
        print(f"{name:48s} {rep.bits_per_byte:.4f}  ({rep.bytes_per_second / 1e3:.1f} KB/s)", flush=True)
    return rows


def _mixer_child(train_path: str, valid_path: str, config: dict) -> dict:
    from decepticons.coding import compress, decompress
    from decepticons.mixer import MixerPredictor

    train = np.fromfile(train_path, dtype=np.uint8)
    valid = np.fromfile(valid_path, dtype=np.uint8)
    m = MixerPredictor(**config)
    m.fit(valid[:2000])  # compile the kernels (batch and stream paths) outside the timings
    decompress(m, compress(m, valid[:2000]))
    m = MixerPredictor(**config)
    fit = m.fit(train)
    rep = m.score(valid)
    t0 = time.perf_counter()
    blob = compress(m, valid)
    c_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = decompress(m, blob)
    d_s = time.perf_counter() - t0
    if not np.array_equal(back, valid):
        raise SystemExit("decompressed bytes differ from the original")
    return {"config": m.config_dict(), "inputs": m.input_names(), "fit_s": fit.seconds,
            "fit_kbps": len(train) / fit.seconds / 1e3, "train_bpb": fit.train_bits_per_byte,
            "bpb": rep.bits_per_byte, "score_kbps": rep.bytes_per_second / 1e3,
            "scored_bytes": rep.total_bits / 8, "file_bytes": len(blob), "file_bpb": 8 * len(blob) / len(valid),
            "compress_kbps": len(valid) / c_s / 1e3, "decompress_kbps": len(valid) / d_s / 1e3,
            "round_trip": True}


FIGURE = Path(__file__).resolve().parent.parent / "docs" / "figures" / "compression.png"


def plot(base: list[dict], mem: list[dict], mix: dict) -> bool:
    """Horizontal bars of valid bits/byte: baselines (alone and primed), each memory, the mixer."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [(f"{r['name']} (alone)", r["alone_bpb"], "0.75") for r in base]
    rows += [(f"{r['name']} (primed)", r["primed_bpb"], "0.45") for r in base]
    rows += [(r["name"], r["bpb"], "tab:blue") for r in mem]
    rows += [("mixer (prequential)", mix["bpb"], "tab:red"),
             ("mixer: real compressed file", mix["file_bpb"], "darkred")]
    rows.sort(key=lambda r: -r[1])
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color=[r[2] for r in rows])
    for i, r in enumerate(rows):
        ax.text(r[1] + 0.02, i, f"{r[1]:.3f}", va="center", fontsize=7)
    ax.axvline(1.90, color="tab:red", ls="--", lw=0.8)
    ax.set_xlabel("bits per byte on valid (lower is better); dashed: 1.90 target")
    ax.set_title("Shakespeare valid: memories, mixer, compressors", fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=120)
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--config", default="{}", help="JSON overrides for the mixer")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true", help="print only, do not touch docs/benchmarks.md")
    args = ap.parse_args()
    if args.train is None or args.valid is None:
        from decepticons.data import shakespeare

        paths = shakespeare()
        args.train = args.train or str(paths["train"])
        args.valid = args.valid or str(paths["valid"])
    config = json.loads(args.config)
    if args.child:
        print(json.dumps(_mixer_child(args.train, args.valid, config)))
        return

    train_b = Path(args.train).read_bytes()
    valid_b = Path(args.valid).read_bytes()
    train = np.frombuffer(train_b, dtype=np.uint8)
    valid = np.frombuffer(valid_b, dtype=np.uint8)
    print(f"train {len(train):,} bytes, valid {len(valid):,} bytes", flush=True)
    base = _baselines(train_b, valid_b)
    mem = _memories(train, valid)
    proc = subprocess.run([sys.executable, __file__, "--child", "--train", args.train, "--valid", args.valid,
                           "--config", args.config], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"mixer child failed:\n{proc.stderr}")
    mix = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(mix, indent=1), f"peak RSS {peak_mb:.0f} MB", flush=True)

    ppmd = next(r for r in base if r["name"].startswith("PPMd"))
    lines = [
        "## Compression: memories and the mixer vs standard compressors",
        "",
        f"Train {len(train):,} bytes, valid {len(valid):,} bytes (Shakespeare split). Every decepticons model is "
        "fitted on train and scores valid **prequentially** (adaptation on: it keeps learning from the valid "
        "bytes it has already seen). Baselines: valid alone, and primed = size(train + valid) - size(train).",
        "",
        "| compressor | valid alone (bits/byte) | primed (bits/byte) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['name']} | {r['alone_bpb']:.4f} | {r['primed_bpb']:.4f} |" for r in base]
    lines += ["", "| memory alone (fitted on train) | valid bits/byte | adaptive | fit (s) | scoring (KB/s) |",
              "|---|---:|---|---:|---:|"]
    lines += [f"| {r['name']} | {r['bpb']:.4f} | {'on' if r['adaptive'] else 'off'} | {r['fit_s']:.1f} | "
              f"{r['score_kbps']:.1f} |" for r in mem]
    gap = (mix["file_bytes"] - mix["scored_bytes"]) / mix["scored_bytes"] * 100
    lines += [
        "",
        f"| mixer (inputs: {', '.join(mix['inputs'])}) | value |",
        "|---|---:|",
        f"| valid bits/byte, scored prequentially | **{mix['bpb']:.4f}** |",
        f"| primed PPMd order 8, same table | {ppmd['primed_bpb']:.4f} |",
        f"| real `compress` file of valid | {mix['file_bytes']:,} bytes = {mix['file_bpb']:.4f} bits/byte "
        f"({gap:+.3f}% vs scored {mix['scored_bytes']:,.0f} bytes; header included) |",
        f"| decompressed file equals valid | {'yes' if mix['round_trip'] else 'NO'} |",
        f"| fit on train (prequential train bits/byte {mix['train_bpb']:.4f}) | {mix['fit_s']:.1f} s "
        f"({mix['fit_kbps']:.1f} KB/s) |",
        f"| scoring throughput | {mix['score_kbps']:.1f} KB/s |",
        f"| compression throughput | {mix['compress_kbps']:.1f} KB/s |",
        f"| decompression throughput | {mix['decompress_kbps']:.1f} KB/s |",
        f"| peak memory (max RSS of the mixer process) | {peak_mb:,.0f} MB |",
        "",
        f"Mixer config: `{json.dumps(mix['config'], sort_keys=True)}`",
        "",
        "![compression](figures/compression.png)" if plot(base, mem, mix) else "",
        "",
        f"Machine: {machine()}. Commit {git_rev()}. Command: `{command_line()}` (run under "
        "a lock file, one benchmark at a time).",
    ]
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("compression", md)


if __name__ == "__main__":
    main()

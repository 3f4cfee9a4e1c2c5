"""Compression at scale: fit on the first 1, 10 and 100 MB of the ``source-mix`` corpus, then score, compress
and decompress its whole valid split (section "scaling").

    python benchmarks/bench_scaling.py [--model cm] [--sizes 1,10,100] [--config '{}']

``source-mix`` (``decepticons data source-mix``) puts its files in a fixed hashed order, so every prefix of
train is a sample of the same mixture of sources as the valid split. Each row runs in a fresh process, so its
peak RSS is its own; the row reports fit seconds per MB (flat = linear time), peak memory, the model file's
size, held-out bits/byte (adaptive), the compressed file's bits/byte with a round-trip check, and compress /
decompress KB/s. Targets (issue: compression at 100 MB): fit time per byte flat within 20% from 10 to 100 MB,
peak memory <= 4 GB, bits/byte improving with more data, model files sized to their content.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
from decepticons.registry import model_class, load_model
from decepticons.coding import compress, decompress
train, valid, n, kind, config, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
with open(train, "rb") as f:
    tr = np.frombuffer(f.read(n), dtype=np.uint8)
va = np.frombuffer(open(valid, "rb").read(), dtype=np.uint8)
m = model_class(kind)(**json.loads(config))
t = time.perf_counter(); m.fit(tr, progress=False); fit_s = time.perf_counter() - t
path = os.path.join(out, "model.safetensors")
m.save(path)
size = os.path.getsize(path)
m = load_model(path)
s = m.score(va, progress=False)
t = time.perf_counter(); blob = compress(m, va, progress=False); c_s = time.perf_counter() - t
t = time.perf_counter(); back = decompress(m, blob, progress=False); d_s = time.perf_counter() - t
print(json.dumps({"bytes": int(len(tr)), "fit_s": fit_s, "model_file_bytes": size, "valid_bpb": s.bits_per_byte,
                  "file_bpb": len(blob) * 8 / len(va), "round_trip": bytes(back) == va.tobytes(),
                  "compress_kbs": len(va) / 1024 / c_s, "decompress_kbs": len(va) / 1024 / d_s,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_row(train: str, valid: str, n: int, model: str, config: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([sys.executable, "-c", CHILD,
                            train, valid, str(n), model, config, out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"row {n:,} bytes failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def render(rows: list[dict], model: str, config: str, valid_bytes: int) -> str:
    lines = ["## Scaling: fit and compress at 1, 10 and 100 MB", "",
             f"Command: `{command_line()}`. Machine: {machine()}; commit {git_rev()}. Corpus: `source-mix` "
             f"(`decepticons data source-mix`), the first N bytes of train; held-out: its whole valid split "
             f"({valid_bytes:,} bytes). Model: `{model}` {config}. One fresh process per row.", "",
             "| train bytes | fit s | fit s per MB | peak RSS | model file | valid bits/byte | compressed file "
             "bits/byte | round trip | compress KB/s | decompress KB/s |",
             "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['bytes']:,} | {r['fit_s']:.0f} | {r['fit_s'] / (r['bytes'] / 1e6):.2f} | "
                     f"{r['peak_mb']:,.0f} MB | {r['model_file_bytes'] / 1e6:,.1f} MB | {r['valid_bpb']:.4f} | "
                     f"{r['file_bpb']:.4f} | {'yes' if r['round_trip'] else 'NO'} | {r['compress_kbs']:.1f} | "
                     f"{r['decompress_kbs']:.1f} |")
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        ratio = (b["fit_s"] / b["bytes"]) / (a["fit_s"] / a["bytes"])
        lines += ["", f"Fit time per byte, {b['bytes'] / 1e6:.0f} MB against {a['bytes'] / 1e6:.0f} MB: "
                  f"x{ratio:.2f} (target: within 20%, i.e. <= x1.20); peak memory of the largest row "
                  f"{rows[-1]['peak_mb'] / 1024:.2f} GB (target <= 4 GB); bits/byte "
                  + ("improves" if b["valid_bpb"] < a["valid_bpb"] else "does not improve")
                  + f" with more data ({a['valid_bpb']:.4f} -> {b['valid_bpb']:.4f})."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", help="train split (default: source-mix from decepticons.data)")
    ap.add_argument("--valid")
    ap.add_argument("--model", default="cm", help="registered model kind (default cm: its memory is fixed by its "
                                                  "context table; the mixer's count tables grow with the data)")
    ap.add_argument("--config", default="{}", help="JSON constructor overrides")
    ap.add_argument("--sizes", default="1,10,100", help="comma-separated MB of train per row")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    args = ap.parse_args()
    train, valid = args.train, args.valid
    if not (train and valid):
        from decepticons.data import corpus_files

        paths = corpus_files("source-mix")
        train, valid = str(paths["train"]), str(paths["valid"])
    rows = []
    for mb in [float(s) for s in args.sizes.split(",")]:
        n = min(int(mb * 1e6), Path(train).stat().st_size)
        rows.append(run_row(train, valid, n, args.model, args.config))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    md = render(rows, args.model, args.config, Path(valid).stat().st_size)
    print(md)
    if not args.no_write:
        write_section("scaling", md)


if __name__ == "__main__":
    main()

"""Byte-latent descendant: the coder reading learned patches, against the default state view.

    python examples/projects/byte_latent/run.py            # the embedded demo split (a few minutes)
    python examples/projects/byte_latent/run.py --tiny     # 20 KB / 5 KB, seconds (what the test suite runs)

What it shows, using only the public API:

1. ``ByteLatentPredictiveCoder(view="byte_latent")`` segments the byte stream into patches with the learned
   segmenter, commits a latent per patch and predicts inside a patch from the committed latent plus the
   residual; the default coder reads the substrate state directly. Both are fitted on the same bytes and
   scored on held-out bytes.
2. Where the patches fall: patch-length histogram, the boundary rate against the segmenter's target, and the
   held-out text with ``|`` at each learned boundary.
3. The byte-latent model is an ordinary predictor: a real compressed file round-trips, and it generates.

Prints one JSON object (``--json``) or a short report.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from decepticons import ByteLatentPredictiveCoder, compress, decompress
from decepticons.data import embedded_corpus


def run(train_bytes: int | None, valid_bytes: int | None) -> dict:
    train, valid = embedded_corpus()
    train, valid = np.asarray(train)[:train_bytes], np.asarray(valid)[:valid_bytes]
    out: dict = {"train_bytes": len(train), "valid_bytes": len(valid), "models": {}}
    models = {"state view (default)": ByteLatentPredictiveCoder(),
              "byte-latent view": ByteLatentPredictiveCoder(view="byte_latent")}
    for name, m in models.items():
        t0 = time.perf_counter()
        m.fit(train)
        fit_s = time.perf_counter() - t0
        s = m.score(valid)
        out["models"][name] = {"valid_bits_per_byte": s.bits_per_byte, "fit_seconds": fit_s,
                               "features": m.view.feature_size}
    bl = models["byte-latent view"]
    seg = bl.view.patches(valid)
    ends = np.flatnonzero(seg.boundary)
    lengths = np.diff(np.concatenate([[-1], ends]))
    target = bl.view.segmenter.config.target_patch
    out["patches"] = {"count": int(len(ends)), "mean_length": float(lengths.mean()) if len(lengths) else 0.0,
                      "target_length": float(target),
                      "length_histogram": {int(k): int(v) for k, v in zip(*np.unique(lengths, return_counts=True))}}
    sample = bytes(valid[:240])
    marked = bytearray()
    for i, b in enumerate(sample):
        marked.append(b)
        if seg.boundary[i]:
            marked += b"|"
    out["patched_text"] = marked.decode("utf-8", "replace")
    head = valid[:4096]
    blob = compress(bl, head)
    assert np.array_equal(decompress(bl, blob), head), "round trip failed"
    out["compressed_head"] = {"bytes": len(head), "file_bytes": len(blob),
                              "bits_per_byte": 8 * len(blob) / len(head)}
    out["generated"] = bytes(bl.generate(b"ROMEO.", steps=80, greedy=True)).decode("utf-8", "replace")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="20 KB of training text and 5 KB held out")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = ap.parse_args(argv)
    out = run(20_000, 5_000) if args.tiny else run(None, None)
    if args.json:
        print(json.dumps(out))
        return
    print(f"train {out['train_bytes']:,} bytes, held out {out['valid_bytes']:,} bytes")
    for name, r in out["models"].items():
        print(f"  {name:22s} {r['valid_bits_per_byte']:.4f} bits/byte  ({r['features']} features, "
              f"fit {r['fit_seconds']:.1f} s)")
    p = out["patches"]
    print(f"patches: {p['count']:,}, mean length {p['mean_length']:.2f} (target {p['target_length']:.1f})")
    print(out["patched_text"])
    c = out["compressed_head"]
    print(f"compressed {c['bytes']:,} bytes to {c['file_bytes']:,} ({c['bits_per_byte']:.3f} bits/byte), round trip ok")
    print("generated:", out["generated"])


if __name__ == "__main__":
    main()

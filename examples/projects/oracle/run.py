"""Oracle descendant: how determined each byte is given both sides of it, against a causal model.

    python examples/projects/oracle/run.py           # the embedded demo split
    python examples/projects/oracle/run.py --tiny    # 20 KB / 5 KB (what tests/test_projects.py runs)

What it shows, using only the public API: ``OracleAnalysisAdapter`` (registry name ``oracle``) reads the
bytes on both sides of each position (a forward and a reversed count model, mixed per confidence bucket). It
declares itself non-causal, so it is an analysis tool and never a code: causal scoring and compression refuse
it with one clear error. ``analyse`` returns per-position causal and oracle bits, the gap per byte class and
how many bytes the right context makes nearly certain.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from decepticons import InputError, compress
from decepticons.adapters import OracleAnalysisAdapter
from decepticons.data import embedded_corpus
from decepticons.registry import model_class

SIDE = {"kind": "ngram", "config": {"orders": 4}}


def run(train_bytes: int | None, valid_bytes: int | None) -> dict:
    train, valid = embedded_corpus()
    train, valid = np.asarray(train)[:train_bytes], np.asarray(valid)[:valid_bytes]
    causal = model_class(SIDE["kind"])(**SIDE["config"])
    causal.fit(train)
    oracle = OracleAnalysisAdapter(forward=SIDE)
    oracle.fit(train)
    r = oracle.analyse(valid, causal=causal)
    refusals = {}
    for what, call in (("score", lambda: oracle.score(valid[:64])), ("compress", lambda: compress(oracle, valid[:64]))):
        try:
            call()
            refusals[what] = None
        except InputError as e:
            refusals[what] = str(e)
    worst = np.argsort(-r.gap_bits)[:5]
    return {"train_bytes": len(train), "valid_bytes": len(valid), "causal_bits_per_byte": r.causal_bits_per_byte,
            "oracle_bits_per_byte": r.oracle_bits_per_byte, "gap_bits_per_byte": r.gap_bits_per_byte,
            "determined": r.determined, "per_class": r.per_class, "refusals": refusals,
            "largest_gaps": [{"position": int(i), "byte": bytes(valid[i:i + 1]).decode("latin-1"),
                              "context": bytes(valid[max(0, i - 12):i + 12]).decode("latin-1"),
                              "gap_bits": float(r.gap_bits[i])} for i in worst]}


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
    print(f"causal {out['causal_bits_per_byte']:.4f}  oracle {out['oracle_bits_per_byte']:.4f}  "
          f"gap {out['gap_bits_per_byte']:.4f} bits/byte")
    print("determined by both sides: " + ", ".join(f"{v:.1%} at {k}" for k, v in out["determined"].items()))
    for name, row in out["per_class"].items():
        print(f"  {name:<12} {int(row['bytes']):>8,} bytes  causal {row['causal_bpb']:.3f}  "
              f"oracle {row['oracle_bpb']:.3f}  gap {row['gap']:.3f}")
    for what, msg in out["refusals"].items():
        print(f"{what} refuses the oracle: {msg}")


if __name__ == "__main__":
    main()

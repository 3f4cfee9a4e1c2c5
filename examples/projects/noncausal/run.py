"""Noncausal descendant: masked spans reconstructed from both sides, against the left context alone.

    python examples/projects/noncausal/run.py           # the embedded demo split
    python examples/projects/noncausal/run.py --tiny    # 20 KB / 5 KB (what tests/test_projects.py runs)

What it shows, using only the public API: ``NoncausalReconstructiveAdapter`` fills masked spans reading a
window on both sides (a forward and a reversed count model), with its own metric: bits per masked byte (the
code length of the span given its surroundings), span accuracy (the greedy fill equals the span) and byte
accuracy, each beside the same forward model reading only the left context. Spans come from the seeded
``make_spans`` at several lengths; ``reconstruct`` never reads the masked bytes.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from decepticons.adapters import MaskConfig, NoncausalReconstructiveAdapter, make_spans
from decepticons.data import embedded_corpus

SIDE = {"kind": "ngram", "config": {"orders": 4}}
LENGTHS = (1, 4, 16)


def run(train_bytes: int | None, valid_bytes: int | None) -> dict:
    train, valid = embedded_corpus()
    train, valid = np.asarray(train)[:train_bytes], np.asarray(valid)[:valid_bytes]
    model = NoncausalReconstructiveAdapter(forward=SIDE)
    model.fit(train)
    rows = {}
    for L in LENGTHS:
        r = model.evaluate(valid, mask=MaskConfig(span_length=L, fraction=0.05, seed=1))
        rows[str(L)] = {"spans": r.spans, "masked_bytes": r.masked_bytes,
                        "bits_per_masked_byte": r.bits_per_masked_byte,
                        "causal_bits_per_masked_byte": r.causal_bits_per_masked_byte,
                        "span_accuracy": r.span_accuracy, "causal_span_accuracy": r.causal_span_accuracy,
                        "byte_accuracy": r.byte_accuracy, "causal_byte_accuracy": r.causal_byte_accuracy}
    spans = make_spans(len(valid), MaskConfig(span_length=4, fraction=0.05, seed=1))
    s, e = (int(v) for v in spans[min(3, len(spans) - 1)])
    blanked = valid.copy()
    blanked[s:e] = ord("_")
    filled = model.reconstruct(blanked, spans)  # the masked bytes are never read: blanking changes nothing
    example = {"context": bytes(blanked[max(0, s - 20):e + 20]).decode("latin-1"),
               "filled": bytes(filled[max(0, s - 20):e + 20]).decode("latin-1"),
               "truth": bytes(valid[max(0, s - 20):e + 20]).decode("latin-1"),
               "same_as_unblanked": bool(np.array_equal(filled, model.reconstruct(valid, spans)))}
    return {"train_bytes": len(train), "valid_bytes": len(valid), "lengths": rows, "example": example}


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
    print(f"{'span':>5} {'bits/masked byte':>18} {'left only':>10} {'span acc':>9} {'left only':>10}")
    for L, r in out["lengths"].items():
        print(f"{L:>5} {r['bits_per_masked_byte']:>18.3f} {r['causal_bits_per_masked_byte']:>10.3f} "
              f"{r['span_accuracy']:>9.1%} {r['causal_span_accuracy']:>10.1%}")
    ex = out["example"]
    print(f"masked:  {ex['context']!r}\nfilled:  {ex['filled']!r}\ntruth:   {ex['truth']!r}")


if __name__ == "__main__":
    main()

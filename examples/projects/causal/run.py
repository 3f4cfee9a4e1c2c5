"""Causal descendant: a predictor declared by configuration, its components mixed by the context mixer.

    python examples/projects/causal/run.py           # the embedded demo split
    python examples/projects/causal/run.py --tiny    # 20 KB / 5 KB (what tests/test_projects.py runs)

What it shows, using only the public API: ``CausalPredictiveAdapter`` (registry name ``causal-adapter``)
builds ``MixerPredictor(experts=[components])`` from a configuration, so a descendant gets a fitted, saved,
scored and compressible predictor without glue. Each component alone, the mixer alone and the composition are
fitted on the same bytes and scored on held-out bytes; the composition is saved, loaded back (identical
predictions) and a real compressed file of the held-out bytes round-trips.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np

from decepticons import compress, decompress, load_model
from decepticons.adapters import CausalPredictiveAdapter
from decepticons.data import embedded_corpus
from decepticons.registry import model_class

COMPONENTS = [{"kind": "ngram", "config": {"orders": 4}}, {"kind": "coder", "config": {"max_order": 4}}]


def run(train_bytes: int | None, valid_bytes: int | None) -> dict:
    train, valid = embedded_corpus()
    train, valid = np.asarray(train)[:train_bytes], np.asarray(valid)[:valid_bytes]
    out: dict = {"train_bytes": len(train), "valid_bytes": len(valid), "rows": {}}
    for comp in COMPONENTS:
        m = model_class(comp["kind"])(**comp["config"])
        m.fit(train)
        out["rows"][f"{comp['kind']} alone"] = m.score(valid).bits_per_byte
    mixer = model_class("mixer")()
    mixer.fit(train)
    out["rows"]["mixer alone"] = mixer.score(valid).bits_per_byte
    adapter = CausalPredictiveAdapter(components=COMPONENTS)
    adapter.fit(train)
    s = adapter.score(valid)
    out["rows"]["causal-adapter (mixer + ngram + coder)"] = s.bits_per_byte
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "adapter.safetensors")
        adapter.save(path)
        back = load_model(path)
        head = valid[:2048]
        out["reload_identical"] = bool(np.array_equal(back.log_probs(head), adapter.log_probs(head)))
    blob = compress(adapter, valid)
    out["round_trip"] = bool(np.array_equal(decompress(adapter, blob), valid))
    out["compressed_bits_per_byte"] = 8 * len(blob) / len(valid)
    out["scored_bits_per_byte"] = s.bits_per_byte
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
    for name, bpb in out["rows"].items():
        print(f"  {name:42s} {bpb:.4f} bits/byte")
    print(f"saved and loaded back: identical predictions {out['reload_identical']}")
    print(f"compressed file: {out['compressed_bits_per_byte']:.4f} bits/byte (scored "
          f"{out['scored_bits_per_byte']:.4f}), round trip {out['round_trip']}")


if __name__ == "__main__":
    main()

"""Bridge descendant: a stronger model's probabilities exported offline and consumed by a causal student.

    python examples/projects/bridge/run.py           # demo split, 300 training steps per student
    python examples/projects/bridge/run.py --tiny    # 20 KB, 20 steps (what tests/test_projects.py runs)

What it shows, using only the public API:

1. ``BridgeExportAdapter`` writes a teacher's per-position record over a corpus (top-k bytes and their
   log-probabilities, the target byte's log-probability, entropy, peak, top-k mass, margin) to a verified
   safetensors bridge file; ``read_bridge_file`` reads it back and refuses it for any other corpus.
2. ``TeacherExportAdapter`` trains a small causal-bank student on the teacher's soft targets through the shared
   trainer, beside the same student trained on the bytes alone (same steps, same seed), and compares both
   with the teacher: held-out bits per byte, KL(teacher || student) and top-1 agreement.

The teacher is the context mixer's prequential pass over the training bytes (each byte predicted before it
is learned), so its rows are honest predictions, not the over-confident in-sample ones.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np

from decepticons import InputError
from decepticons.adapters import BridgeExportAdapter, TeacherExportAdapter, read_bridge_file
from decepticons.causal_bank import CausalBankConfig
from decepticons.data import embedded_corpus
from decepticons.registry import model_class
from decepticons.training import TrainConfig

#: a small student, so the project runs in seconds to minutes on a CPU
STUDENT = CausalBankConfig.variant("small")


def run(train_bytes: int | None, valid_bytes: int | None, steps: int) -> dict:
    train, valid = embedded_corpus()
    train, valid = np.asarray(train)[:train_bytes], np.asarray(valid)[:valid_bytes]
    teacher = model_class("mixer")()  # unfitted and adaptive: its rows over train are prequential
    out: dict = {"train_bytes": len(train), "valid_bytes": len(valid), "steps": steps}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "teacher.safetensors")
        BridgeExportAdapter(teacher, top_k=16).export(train, path)
        record = read_bridge_file(path)
        record.check_corpus(train)
        try:
            record.check_corpus(valid)
            out["other_corpus_refused"] = False
        except InputError:
            out["other_corpus_refused"] = True
        out["bridge"] = {"file_bytes": os.path.getsize(path), "rows": record.length, "top_k": record.top_k,
                         "teacher_bits_per_byte": record.teacher_bits_per_byte,
                         "mean_entropy": float(np.mean(record.entropy.astype(np.float64)))}
    fitted = model_class("mixer")()
    fitted.fit(train)
    pair = TeacherExportAdapter(fitted, weight=0.5, compare_bytes=len(valid))
    # one recipe for both students, stated in full (the causal bank's own trainer defaults may differ)
    cfg = TrainConfig(max_steps=steps, batch_size=8, seq_len=128, lr=3e-3, eval_every=0, plot=False, seed=0)
    students = {}
    for name, teach in (("bytes alone", False), ("with the teacher", True)):
        student = model_class("causal-bank")(STUDENT, seed=0)
        if teach:
            pair.distill(student, train, config=cfg, record=record, progress=False)
        else:
            student.fit(train, max_steps=steps, batch_size=8, seq_len=128, lr=cfg.lr, eval_every=0, plot=False,
                        seed=0, progress=False)
        students[name] = pair.compare(student, valid)
    out["students"] = students
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="20 KB of training text, 5 KB held out, 20 steps")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = ap.parse_args(argv)
    out = run(20_000, 5_000, 20) if args.tiny else run(None, None, 300)
    if args.json:
        print(json.dumps(out))
        return
    b = out["bridge"]
    print(f"bridge file: {b['rows']:,} rows, top-{b['top_k']}, {b['file_bytes']:,} bytes; teacher "
          f"{b['teacher_bits_per_byte']:.4f} bits/byte (prequential), mean entropy {b['mean_entropy']:.3f} bits; "
          f"another corpus refused: {out['other_corpus_refused']}")
    print(f"students ({out['steps']} steps each), held out {out['valid_bytes']:,} bytes:")
    for name, r in out["students"].items():
        print(f"  {name:18s} {r['student_bits_per_byte']:.4f} bits/byte   KL to the teacher "
              f"{r['teacher_kl_bits']:.3f} bits   top-1 agreement {r['teacher_top1_agreement']:.1%}")
    print(f"  teacher (fitted)   {next(iter(out['students'].values()))['teacher_bits_per_byte']:.4f} bits/byte")


if __name__ == "__main__":
    main()

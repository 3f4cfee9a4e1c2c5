"""Distillation benchmark (section ``distillation`` of docs/benchmarks.md).

A causal-bank student (the ``decepticons train --model causal-bank`` default configuration and trainer
defaults) trained on the first ``--train-bytes`` of the Shakespeare train split, twice with the same seed and
the same step budget: on the bytes alone, and with the soft targets of a context mixer (``MixerPredictor``,
default configuration) at ``--teacher-weight``. The teacher's rows are its prequential predictions over the
training bytes (each byte predicted before the mixer learns it: the scoring pass of a mixer that starts
empty, which is the pass ``fit`` makes over the same bytes), exported with ``decepticons export --top-k K``;
an in-sample pass of the fitted mixer would be over-confident on bytes it has already counted. The teacher's
own held-out figure is the mixer fitted on the same training bytes. Every held-out figure is
``decepticons score`` on the first ``--valid-bytes`` of the valid split. The commands run in-process
through ``decepticons.cli.main``, exactly as on the command line::

    decepticons export --load mixer-empty.safetensors --input train.txt --output mixer.bridge --top-k 16
    decepticons train --model causal-bank --input train.txt --valid valid.txt --steps S --save bytes.st
    decepticons train --model causal-bank --input train.txt --valid valid.txt --steps S --save distilled.st \\
        --teacher mixer.bridge --teacher-weight 0.5
    decepticons score --load bytes.st --input valid.txt

Run it under the CPU lock::

    python benchmarks/bench_distill.py --train-bytes 1000000 --steps 600
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import command_line, git_rev, machine, write_section  # noqa: E402


def cli(*argv: str) -> dict:
    """``decepticons ARGV --json`` in-process; returns the JSON it prints."""
    from decepticons.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main([*argv, "--json"])
    if rc != 0:
        raise SystemExit(f"decepticons {' '.join(argv)} exited {rc}")
    return json.loads(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-bytes", type=int, default=1_000_000)
    ap.add_argument("--valid-bytes", type=int, default=0, help="held-out bytes scored (0: the whole valid split)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--top-k", type=int, default=16)
    ap.add_argument("--teacher-weight", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", help="folder for the corpora, models and bridge file (default: a temporary one)")
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    args = ap.parse_args()

    import numpy as np
    import torch

    from decepticons.data import read_corpus, shakespeare
    from decepticons.mixer import MixerPredictor

    paths = shakespeare()
    train = np.asarray(read_corpus(paths["train"])[:args.train_bytes])
    valid_all = np.asarray(read_corpus(paths["valid"]))
    valid = valid_all[:args.valid_bytes] if args.valid_bytes else valid_all
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-distill-"))
    work.mkdir(parents=True, exist_ok=True)
    tr, va = work / "train.txt", work / "valid.txt"
    tr.write_bytes(train.tobytes())
    va.write_bytes(valid.tobytes())
    rows: dict[str, dict] = {}

    # the teacher: an empty mixer's scoring pass over the training bytes = its prequential predictions
    empty = work / "mixer-empty.safetensors"
    MixerPredictor(seed=args.seed).save(empty)
    t0 = time.perf_counter()
    exp = cli("export", "--load", str(empty), "--input", str(tr), "--output", str(work / "mixer.bridge"),
              "--top-k", str(args.top_k))["export"]
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitted = work / "mixer.safetensors"
    cli("fit", "--model", "mixer", "--input", str(tr), "--save", str(fitted), "--seed", str(args.seed))
    fit_s = time.perf_counter() - t0
    teacher_valid = cli("score", "--load", str(fitted), "--input", str(va))["score"]["bits_per_byte"]

    base = ["train", "--model", "causal-bank", "--input", str(tr), "--valid", str(va), "--steps", str(args.steps),
            "--seed", str(args.seed), "--device", "cpu", "--config", "train.eval_every=0"]
    for name, extra in (("bytes alone", []),
                        ("mixer soft targets", ["--teacher", str(work / "mixer.bridge"),
                                                "--teacher-weight", str(args.teacher_weight)])):
        model = work / f"student-{len(rows)}.safetensors"
        t0 = time.perf_counter()
        out = cli(*base, "--save", str(model), *extra)["train"]
        secs = time.perf_counter() - t0
        score = cli("score", "--load", str(model), "--input", str(va))["score"]
        rows[name] = {"steps": out["steps"], "seconds": secs, "tokens_per_s": out["tokens_per_second"],
                      "parameters": out["parameters"], "final_loss_bits": out["final_loss_bits_per_byte"],
                      "valid_bpb": score["bits_per_byte"], "teacher": out.get("teacher")}
        print(name, json.dumps(rows[name]), flush=True)

    b, d = rows["bytes alone"], rows["mixer soft targets"]
    agree = d["teacher"] or {}
    lines = [
        "## Distillation: a causal-bank student with and without a teacher's soft targets",
        "",
        f"Command: `{command_line()}`. Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads; commit {git_rev()}.",
        f"Corpus: the first {len(train):,} bytes of the Shakespeare train split; held-out = "
        f"{'the whole valid split' if not args.valid_bytes else f'the first {len(valid):,} bytes of the valid split'}"
        f" ({len(valid):,} bytes), scored by `decepticons score`.",
        f"Student: `decepticons train --model causal-bank` defaults ({b['parameters']:,} parameters; batch 32 x 256 "
        f"bytes), {args.steps} steps, seed {args.seed}, evaluated only at the end. Teacher: `MixerPredictor` "
        f"(default configuration); its rows over the training bytes are its prequential predictions (the scoring "
        f"pass of an empty mixer, each byte predicted before it is learned), exported with top-{args.top_k} "
        f"(`decepticons export`, {export_s:.0f} s; mean top-{args.top_k} mass {exp['mean_top_k_mass']:.4f}); "
        f"loss = (1 - a) CE + a KL(teacher || student), a = {args.teacher_weight}, temperature 1.",
        "",
        "| student | steps | wall seconds of `train` (incl. final evaluation) | held-out bits/byte |",
        "|---|---:|---:|---:|",
        f"| bytes alone | {b['steps']} | {b['seconds']:.0f} | {b['valid_bpb']:.4f} |",
        f"| mixer soft targets (a = {args.teacher_weight}) | {d['steps']} | {d['seconds']:.0f} | "
        f"{d['valid_bpb']:.4f} |",
        "",
        f"Difference (soft targets - bytes alone): {d['valid_bpb'] - b['valid_bpb']:+.4f} bits/byte. "
        f"Teacher: prequential bits/byte on the training bytes {exp['teacher_bits_per_byte']:.4f}; the mixer fitted "
        f"on them ({fit_s:.0f} s) scores {teacher_valid:.4f} held-out. Agreement of the distilled student with the "
        f"teacher's rows at the end (first {agree.get('teacher_positions', 0):,} training bytes): KL(teacher || "
        f"student) {agree.get('teacher_kl_bits', float('nan')):.4f} bits/byte, top-1 agreement "
        f"{agree.get('teacher_top1_agreement', float('nan')):.1%}.",
    ]
    text = "\n".join(lines) + "\n"
    if args.no_write:
        print(text)
    else:
        write_section("distillation", text)
        print(text)


if __name__ == "__main__":
    main()

"""Adapters: causal against oracle bits per byte (overall and per byte class), and masked-span reconstruction
from both sides against the left context only.

``oracle``: an :class:`OracleAnalysisAdapter` (forward and backward order-5 n-gram memories, learned product
of experts) is fitted on the first ``--train-bytes`` of the training split and analyses the first
``--valid-bytes`` of the held-out split, against two causal models fitted on the same bytes: its own forward
memory (the same model with the left context only) and the default context mixer.
``reconstruction``: a :class:`NoncausalReconstructiveAdapter` (order-5 memories, ``online`` off, windows of
32 bytes) fitted on the same bytes reconstructs seeded spans (``MaskConfig(span_length=L, fraction=0.05,
seed=0)``) of the held-out bytes at each ``--span-lengths`` L.

    python benchmarks/bench_adapters.py [--train-bytes N] [--valid-bytes M]
        [--span-lengths 1,4,16] [--sections oracle,reconstruction]

Writes sections ``oracle`` and ``reconstruction`` of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402


def _data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    from decepticons.data import read_corpus, shakespeare

    paths = shakespeare()
    return (np.asarray(read_corpus(paths["train"]))[:args.train_bytes].copy(),
            np.asarray(read_corpus(paths["valid"]))[:args.valid_bytes].copy())


def _header(args: argparse.Namespace, what: str) -> str:
    return (f"Command: `{command_line()}` at commit {git_rev()}. Corpus: the Shakespeare split "
            f"(`decepticons.data.shakespeare()`): the first {args.train_bytes:,} bytes of `train.txt` to fit, the "
            f"first {args.valid_bytes:,} bytes of `valid.txt` {what}. Machine: {machine()}.")


def oracle_section(args: argparse.Namespace, train: np.ndarray, valid: np.ndarray) -> str:
    from decepticons.adapters import OracleAnalysisAdapter
    from decepticons.adapters.classes import BYTE_CLASSES
    from decepticons.registry import model_class

    t0 = time.perf_counter()
    oracle = OracleAnalysisAdapter()
    oracle.fit(train)
    fit_s = time.perf_counter() - t0
    mixer = model_class("mixer")()
    mixer.fit(train)
    reps = {"ngram (the oracle's forward side)": oracle.analyse(valid),
            "mixer (default)": oracle.analyse(valid, causal=mixer)}
    lines = ["## Oracle analysis: causal against oracle bits per byte", "",
             _header(args, "analysed") + f" The oracle's fit took {fit_s:.1f} s.", "",
             "The oracle reads both sides of every byte (forward and backward order-5 n-gram memories, learned "
             "product of experts; `decepticons.adapters.oracle`); its figures are not code lengths. The gap is "
             "causal minus oracle bits per byte: what the right context adds.", ""]
    first = next(iter(reps.values()))
    lines += [f"Oracle: {first.oracle_bits_per_byte:.3f} bits/byte; bytes the oracle gives probability >= 0.5 / "
              f"0.9 / 0.99: " + " / ".join(f"{v:.1%}" for v in first.determined.values()) + ".", "",
              "| causal model | causal bits/byte | oracle bits/byte | gap |", "|---|---:|---:|---:|"]
    for name, r in reps.items():
        lines.append(f"| {name} | {r.causal_bits_per_byte:.3f} | {r.oracle_bits_per_byte:.3f} | "
                     f"{r.gap_bits_per_byte:.3f} |")
    lines += ["", "Per byte class (bits per byte; gap against each causal model):", "",
              "| class | bytes | oracle | ngram | gap | mixer | gap |", "|---|---:|---:|---:|---:|---:|---:|"]
    ng, mx = reps.values()
    for c in BYTE_CLASSES:
        if c in ng.per_class:
            a, b = ng.per_class[c], mx.per_class[c]
            lines.append(f"| {c} | {int(a['bytes']):,} | {a['oracle_bpb']:.3f} | {a['causal_bpb']:.3f} | "
                         f"{a['gap']:.3f} | {b['causal_bpb']:.3f} | {b['gap']:.3f} |")
    return "\n".join(lines)


def reconstruction_section(args: argparse.Namespace, train: np.ndarray, valid: np.ndarray) -> str:
    from decepticons.adapters import MaskConfig, NoncausalReconstructiveAdapter

    t0 = time.perf_counter()
    model = NoncausalReconstructiveAdapter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    lines = ["## Masked-span reconstruction: both sides against the left context only", "",
             _header(args, "masked") + f" The reconstructor's fit took {fit_s:.1f} s.", "",
             "Spans from `MaskConfig(span_length=L, fraction=0.05, seed=0)` (fixed lengths). Both sides: "
             "`NoncausalReconstructiveAdapter()` (forward and backward order-5 n-gram memories, `online` off, "
             "32-byte windows, weights per distance to the right context). Left only: the same forward memory "
             "alone. Bits per masked byte are the chain-rule code length of each span given the bytes around it; "
             "span accuracy is exact greedy reconstruction of the whole span.", "",
             "| span length | spans | bits/masked byte, both | left only | span accuracy, both | left only | "
             "byte accuracy, both | left only | seconds |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for L in args.span_lengths:
        r = model.evaluate(valid, mask=MaskConfig(span_length=L, fraction=0.05, seed=0))
        lines.append(f"| {L} | {r.spans:,} | {r.bits_per_masked_byte:.3f} | {r.causal_bits_per_masked_byte:.3f} | "
                     f"{r.span_accuracy:.1%} | {r.causal_span_accuracy:.1%} | {r.byte_accuracy:.1%} | "
                     f"{r.causal_byte_accuracy:.1%} | {r.seconds:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-bytes", type=int, default=1 << 20)
    ap.add_argument("--valid-bytes", type=int, default=1 << 16)
    ap.add_argument("--span-lengths", default="1,4,16")
    ap.add_argument("--sections", default="oracle,reconstruction")
    args = ap.parse_args()
    args.span_lengths = [int(v) for v in args.span_lengths.split(",")]
    train, valid = _data(args)
    for name in args.sections.split(","):
        fn = {"oracle": oracle_section, "reconstruction": reconstruction_section}[name]
        text = fn(args, train, valid)
        print(text + "\n")
        write_section(name, text)


if __name__ == "__main__":
    main()

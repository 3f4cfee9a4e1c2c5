"""Rollout curves and artifact accounting (section "rollout").

Models fitted on the first ``--train-bytes`` of the Shakespeare train split (``decepticons.data.shakespeare``):
the n-gram memory (orders 1-6), the default coder and the default mixer, plus a causal bank trained by
``decepticons train`` for ``--bank-budget`` on the same bytes. Rollouts (``evaluate_rollout_curve``): ``--starts``
start positions spread over the valid split, a 256-byte prefix, ``--steps`` steps, greedy and sampled
(temperature 1, seed 0). Accounting (``ArtifactAccounting``): saved model bytes + code length of the whole
valid split (the ideal code length of ``score``, and for the memory and the mixer the real ``compress`` file),
beside standard compressors of valid alone (whose programs are not counted).

    python benchmarks/bench_rollout.py
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402

FIG = Path(__file__).resolve().parents[1] / "docs" / "figures" / "rollout.png"


def _models(train: np.ndarray, work: Path, bank_budget: str) -> dict:
    from decepticons.coder import ByteLatentPredictiveCoder
    from decepticons.memory import NGramPredictor
    from decepticons.mixer import MixerPredictor
    from decepticons.registry import load_model

    out = {}
    for label, m in (("ngram orders 1-6", NGramPredictor(orders=6)), ("coder (default)", ByteLatentPredictiveCoder()),
                     ("mixer (default)", MixerPredictor())):
        t0 = time.perf_counter()
        m.fit(train, progress=False)
        print(f"fitted {label} in {time.perf_counter() - t0:.1f} s", flush=True)
        out[label] = m
    if bank_budget != "0":
        tr = work / "train.txt"
        tr.write_bytes(train.tobytes())
        bank = work / "bank.safetensors"
        subprocess.run([sys.executable, "-m", "decepticons", "train", "--model", "causal-bank", "--input", str(tr),
                        "--budget", bank_budget, "--device", "cpu", "--save", str(bank), "--quiet"], check=True)
        out[f"causal bank (trained {bank_budget})"] = load_model(bank)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-bytes", type=int, default=1 << 20)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--starts", type=int, default=32)
    ap.add_argument("--bank-budget", default="60s", help="causal bank training budget ('0': none)")
    args = ap.parse_args()
    from decepticons.coding import compress
    from decepticons.data import read_corpus, shakespeare
    from decepticons.runtime import ArtifactAccounting, evaluate_rollout_curve, model_file_bytes, plot_rollout

    paths = shakespeare()
    train = np.ascontiguousarray(read_corpus(paths["train"])[:args.train_bytes])
    valid = np.ascontiguousarray(read_corpus(paths["valid"]))
    acc_rows, curves = [], {}
    with tempfile.TemporaryDirectory() as d:
        models = _models(train, Path(d), args.bank_budget)
        for label, m in models.items():
            t0 = time.perf_counter()
            c = evaluate_rollout_curve(m, valid, args.steps, starts=args.starts, context=256, seed=0)
            print(f"rollout {label}: {time.perf_counter() - t0:.1f} s", flush=True)
            curves[label] = c
            size = model_file_bytes(m)
            sr = m.score(valid, progress=False)
            acc_rows.append((label, "ideal code length", ArtifactAccounting(
                model=m.name, data_bytes=len(valid), model_bytes=size, code_bits=sr.total_bits,
                model_source="serialised")))
            if m.name in ("ngram", "mixer"):
                blob = compress(m, valid, progress=False)
                acc_rows.append((label, "compress file", ArtifactAccounting(
                    model=m.name, data_bytes=len(valid), model_bytes=size, code_bits=8.0 * len(blob),
                    model_source="serialised", code_source="compressed file")))
            print(json.dumps(acc_rows[-1][2].to_dict()), flush=True)
    raw = valid.tobytes()
    baselines = {"gzip -9": len(gzip.compress(raw, 9, mtime=0)), "bzip2 -9": len(bz2.compress(raw, 9)),
                 "xz -9e": len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))}

    steps = [1, 2, 4, 8, 16, 32, 64]
    steps = [s for s in steps if s <= args.steps]
    lines = ["## Rollout curves and artifact accounting", "",
             f"Models fitted on the first {len(train):,} bytes of the Shakespeare train split; rollouts from "
             f"{args.starts} start positions spread over the valid split ({len(valid):,} bytes: Hamlet, Macbeth, "
             f"The Tempest), each after a 256-byte prefix of valid, {args.steps} steps. *Accuracy*: the byte "
             "generated (free-running, fed its own output) or predicted (teacher-forced, fed the truth) equals "
             "the true byte; *bits*: -log2 p of the true byte under each conditioning. Greedy takes the argmax; "
             "sampled draws at temperature 1 (seed 0; both conditionings use the same random number at each "
             "step). Step 1 sees the prefix alone, so the two conditionings agree there.", ""]
    for mode in ("greedy", "sampled"):
        lines += [f"**{mode}**: accuracy free-running / teacher-forced, and bits of the true byte free-running / "
                  "teacher-forced, at step", "",
                  "| model | " + " | ".join(f"step {s}" for s in steps) + " | mean over steps (acc; bits) |",
                  "|---|" + "---:|" * (len(steps) + 1)]
        for label, c in curves.items():
            r = getattr(c, mode)
            ra, ta, rb, tb = r.rollout_accuracy, r.teacher_accuracy, r.rollout_bits_per_byte, r.teacher_bits_per_byte
            cells = [f"{ra[s - 1]:.2f} / {ta[s - 1]:.2f}; {rb[s - 1]:.2f} / {tb[s - 1]:.2f}" for s in steps]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {ra.mean():.3f} / {ta.mean():.3f}; "
                         f"{rb.mean():.2f} / {tb.mean():.2f} |")
        lines.append("")
    lines += ["Greedy rollouts still on track (every generated byte so far equal to the truth) at step "
              + ", ".join(str(s) for s in steps) + ": "
              + "; ".join(f"{label} " + " ".join(f"{c.greedy.on_track[s - 1]:.2f}" for s in steps)
                          for label, c in curves.items()) + ".", ""]
    lines += ["**Accounting** (whole valid split): model bytes = the saved `.safetensors` file; code = the ideal "
              "code length of `score` (prequential) or the real `compress` file, header included; total = model "
              "+ code, as `decepticons score` and `decepticons compress` report it.", "",
              "| model | code | model bytes | code bytes | total bytes | bits/byte without the model | "
              "bits/byte with it |", "|---|---|---:|---:|---:|---:|---:|"]
    for label, kind, a in acc_rows:
        lines.append(f"| {label} | {kind} | {a.model_bytes:,} | {a.code_bits / 8:,.0f} | {a.total_bits / 8:,.0f} | "
                     f"{a.code_bits_per_byte:.4f} | {a.total_bits_per_byte:.4f} |")
    for name, n in baselines.items():
        lines.append(f"| {name} (valid alone) | file | - | {n:,} | {n:,} | {8 * n / len(valid):.4f} | "
                     f"{8 * n / len(valid):.4f} |")
    lines.append("")
    if plot_rollout({label: c.greedy for label, c in curves.items()}, FIG,
                    title=f"greedy rollouts, {args.starts} starts on Shakespeare valid"):
        lines += ["![rollout](figures/rollout.png)", ""]
    lines.append(f"Machine: {machine()}. Commit {git_rev()}. Command: `{command_line()}` (under "
                 "a lock file).")
    write_section("rollout", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

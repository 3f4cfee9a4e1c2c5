"""Tutorial: fit -> score -> look at the trace -> compress -> train -> compare, on the demo corpus.

    python examples/tutorial.py --output tutorial_out           # the whole demo corpus (minutes)
    python examples/tutorial.py --output tutorial_out --tiny    # part of it, a few training steps (< 1 min)

Each ``# %%`` cell below is one step, with what it shows; the script can be read top to bottom, run as a
whole, or run cell by cell in an editor that understands ``# %%`` cells. Everything it writes goes into
``--output``: the trace file, an optional plot of the trace, the compressed file and its decompression, the
comparison page and ``summary.json`` (every number printed along the way).

The numbers are bits per byte: the average code length of the held-out bytes under the model's predictions,
``-log2 p(x_t | x_<t)`` averaged over t. 8.0 is no better than a uniform guess over the 256 byte values;
gzip -9 gets about 3 on this text.
"""

# %% [markdown]
# ## 0. The data
#
# The package ships its own demo corpus: four Shakespeare comedies to train on and a fifth, *The Two
# Gentlemen of Verona*, held out. ``embedded_corpus()`` returns both as read-only ``uint8`` arrays; no
# download is needed. ``--tiny`` uses the first 60 KB of the training bytes and 10 KB of the held-out ones.

# %%
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from decepticons import ByteCodec, InputError, compress, decompress, model_class
from decepticons.data import embedded_corpus
from decepticons.runtime import read_trace, trace, write_html


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default="tutorial_out", help="folder for every file the tutorial writes")
    ap.add_argument("--tiny", action="store_true", help="a small run: 60 KB of training text, 20 training steps")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps of the causal bank (default 300, "
                                                            "20 with --tiny)")
    return ap.parse_args(argv)


def context(data: np.ndarray, t: int, before: int = 24) -> str:
    """The bytes before position t, then the byte at t in brackets, as printable text."""
    left = ByteCodec.decode_text(data[max(0, t - before):t]).replace("\n", "\\n")
    here = ByteCodec.decode_text(data[t:t + 1]).replace("\n", "\\n")
    return f"{left}[{here}]"


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    steps = args.steps if args.steps is not None else (20 if args.tiny else 300)
    summary: dict[str, object] = {"tiny": args.tiny, "steps": steps}
    started = time.perf_counter()

    train, valid = embedded_corpus()
    if args.tiny:
        train, valid = train[:60_000], valid[:10_000]
    print(f"train {len(train):,} bytes, valid {len(valid):,} bytes")
    summary["train_bytes"], summary["valid_bytes"] = len(train), len(valid)

    # %% [markdown]
    # ## 1. Fit
    #
    # Every model is found by name in the registry (``decepticons info`` lists them) and implements the same
    # contract, :class:`decepticons.predictor.CausalPredictor`. ``coder``, the default model, is a frozen
    # substrate read by a closed-form ridge readout under an exact-context count view: fitting it is one pass
    # that accumulates sufficient statistics, then a solve. ``fit`` returns a report with the training bits
    # per byte and, when ``valid`` is given, the held-out ones (``valid`` is scored, never learned from).

    # %%
    coder = model_class("coder")()
    report = coder.fit(train, valid=valid)
    print(f"\n1. fit: {report}")

    # %% [markdown]
    # ## 2. Score
    #
    # ``score`` gives the total code length of a text in bits and its bits per byte. It is the same number
    # as ``report.valid_bits_per_byte`` above: the coder is static (frozen while it scores).

    # %%
    held_out = coder.score(valid)
    print(f"2. score: {held_out.bits_per_byte:.4f} bits/byte over {held_out.bytes:,} held-out bytes")
    summary["coder_bits_per_byte"] = held_out.bits_per_byte

    # %% [markdown]
    # ## 3. Look at the trace
    #
    # A trace has one record per position: the bits of the actual byte, the entropy of the prediction, the
    # most likely byte and its probability, and, for the coder and the count memories, the context order
    # that decided the byte. It is saved as a ``.safetensors`` file (``decepticons score --trace``) and read back by
    # ``read_trace``. The worst bytes are where the model is most surprised: usually the first letter of a
    # name or of a new word after a line break. The running average is the bits/byte curve; with matplotlib
    # installed it is plotted to ``trace.png``.

    # %%
    tr = trace(coder, valid)
    tr.save(out / "trace.safetensors")
    tr = read_trace(out / "trace.safetensors")
    bits = tr.columns["bits"].astype(np.float64)
    print(f"3. trace: columns {list(tr.columns)}; mean {tr.bits_per_byte:.4f} bits/byte")
    worst = np.argsort(-bits, kind="stable")[:8]
    print("   the 8 most surprising bytes (bits, context[byte]):")
    for t in worst:
        print(f"   {bits[t]:6.2f}  {context(valid, int(t))}")
    confident = tr.columns["top1_prob"] > 0.9
    print(f"   {confident.mean():.1%} of the bytes are predicted with p > 0.9, at "
          f"{bits[confident].mean():.3f} bits each; the others cost {bits[~confident].mean():.3f}")
    summary["trace_bits_per_byte"] = tr.bits_per_byte
    summary["worst_bits"] = [float(bits[t]) for t in worst]
    summary["confident_fraction"] = float(confident.mean())

    running = np.cumsum(bits) / np.arange(1, len(bits) + 1)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("   (matplotlib is not installed: no plot)")
    else:
        fig, ax = plt.subplots(figsize=(8, 3))
        window = min(1000, len(bits))
        smooth = np.convolve(bits, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(bits)), smooth, lw=0.8, label=f"bits per byte, mean of {window}")
        ax.plot(running, lw=1.2, label="running bits per byte")
        ax.set_xlabel("position in the held-out text")
        ax.set_ylabel("bits")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "trace.png", dpi=100)
        plt.close(fig)
        print(f"   plot: {out / 'trace.png'}")

    # %% [markdown]
    # ## 4. Compress and decompress
    #
    # A causal model is a compressor: its predictions drive a range coder, and the same model decodes the file
    # (the file records the model's fingerprint and refuses any other). The file's size is within a few bytes
    # of the ideal code length from step 2, so bits per byte *is* the compressed size. The mixer is the
    # strongest numpy model; unlike the coder it keeps learning while it codes (an adaptive, prequential
    # model), which the decoder repeats byte for byte.

    # %%
    mixer = model_class("mixer")()
    mixer.fit(train)
    mixer_bits = mixer.score(valid).bits_per_byte
    blob = compress(mixer, valid)
    (out / "valid.dcx").write_bytes(blob)
    restored = decompress(mixer, (out / "valid.dcx").read_bytes())
    (out / "valid.out").write_bytes(restored.tobytes())
    round_trip = bool(np.array_equal(restored, valid))
    file_bits = 8 * len(blob) / len(valid)
    print(f"4. compress: {len(valid):,} -> {len(blob):,} bytes ({file_bits:.4f} bits/byte; the mixer scores "
          f"{mixer_bits:.4f}); round trip {'ok' if round_trip else 'FAILED'}")
    summary.update(mixer_bits_per_byte=mixer_bits, compressed_bytes=len(blob), file_bits_per_byte=file_bits,
                   round_trip=round_trip)

    # %% [markdown]
    # ## 5. Train a tiny causal bank
    #
    # The causal bank is a bank of causal linear recurrences ``h_t = a * h_{t-1} + b_t`` read out by a small
    # network, trained by gradient descent (PyTorch). ``fit`` takes the trainer's options
    # (:class:`decepticons.training.TrainConfig`); here a tiny bank and a few hundred steps (``--tiny``: 20),
    # far from the ``decepticons train --budget 10m`` runs in docs/benchmarks.md, so expect it to lose to the
    # coder and the mixer. Without torch this step is skipped.

    # %%
    try:
        bank_cls = model_class("causal-bank")
    except InputError as e:  # torch is not installed
        print(f"5. train: skipped ({e})")
        bank = None
    else:
        bank = bank_cls(embed_dim=16, input_hidden=64, num_modes=64, readout_hidden=128, seed=0)
        fit = bank.fit(train, max_steps=steps, batch_size=8, seq_len=128, eval_every=0, eval_bytes=4096,
                       plot=False, progress=False)
        bank_bits = bank.score(valid).bits_per_byte
        print(f"5. train: causal bank, {steps} steps in {fit.seconds:.1f} s: {bank_bits:.4f} bits/byte held out")
        summary["bank_bits_per_byte"] = bank_bits

    # %% [markdown]
    # ## 6. Compare
    #
    # ``write_html`` scores the same bytes with each model and writes one self-contained page
    # (``decepticons compare --load A --load B --input FILE --html OUT`` from the command line): each byte
    # coloured by the difference in bits, the probabilities and top alternatives on hover. Its records are
    # the same per-byte numbers in Python: where each model wins, and by how much.

    # %%
    rival = bank if bank is not None else mixer
    part = valid[:20_000]
    records = write_html(out / "compare.html", part, [coder, rival], names=["coder", rival.name])
    a, b = (r.bits.astype(np.float64) for r in records)
    wins = float(np.mean(a < b))
    print(f"6. compare ({len(part):,} bytes): coder {a.mean():.4f}, {rival.name} {b.mean():.4f} bits/byte; "
          f"the coder codes {wins:.1%} of the bytes in fewer bits; page: {out / 'compare.html'}")
    summary["compare"] = {"models": [r.name for r in records], "bits_per_byte": [a.mean(), b.mean()],
                          "first_wins_fraction": wins}

    summary["seconds"] = time.perf_counter() - started
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\ndone in {summary['seconds']:.0f} s; numbers in {out / 'summary.json'}")
    assert all(math.isfinite(v) for v in (held_out.bits_per_byte, mixer_bits, file_bits))
    return summary


if __name__ == "__main__":
    main()

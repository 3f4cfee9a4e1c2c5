"""Quickstart: fit the byte-latent predictive coder, generate, score held-out text, save and load.

    python examples/quickstart.py                       # fits on the embedded Shakespeare comedies
    python examples/quickstart.py --train-bytes 50000   # a quicker run on part of them

1. The README's quickstart: fit on a repeated sentence and continue a prompt greedily.
2. Real text: fit on four comedies (shipped inside the package) and score a fifth that the model never saw,
   in bits per byte (8.0 = no better than uniform over the 256 byte values).
3. Save the fitted model to one ``.safetensors`` file, load it back, and check that it predicts identically.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from decepticons import ByteCodec, ByteLatentPredictiveCoder, load_model
from decepticons.data import embedded_corpus


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-bytes", type=int, default=None, help="use only this many training bytes")
    ap.add_argument("--valid-bytes", type=int, default=None, help="score only this many held-out bytes")
    args = ap.parse_args(argv)

    # 1. the README quickstart ---------------------------------------------------------------------------
    text = "predictive coding likes repeated structure.\n" * 64
    model = ByteLatentPredictiveCoder()
    report = model.fit(text)

    prompt = ByteCodec.encode_text("predictive ")
    sample = model.generate(prompt, steps=40, greedy=True)

    print(report.train_bits_per_byte)
    print(ByteCodec.decode_text(sample))

    # 2. real text: fit on four comedies, score the held-out fifth ---------------------------------------
    train, valid = embedded_corpus()
    train, valid = train[:args.train_bytes], valid[:args.valid_bytes]
    model = ByteLatentPredictiveCoder()
    report = model.fit(train, valid=valid)  # valid is only scored, never learned from
    print()
    print(report)

    held_out = model.score(valid)
    print(f"held-out: {held_out.bits_per_byte:.4f} bits per byte over {held_out.bytes:,} bytes "
          f"({held_out.bytes_per_second / 1e3:,.0f} KB/s)")

    # 3. save, load, identical predictions ---------------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "coder.safetensors")
        fingerprint = model.save(path)
        print(f"saved {os.path.getsize(path):,} bytes to {os.path.basename(path)} (fingerprint {fingerprint[:16]})")
        loaded = ByteLatentPredictiveCoder.load(path)  # or load_model(path), which reads the kind from the file
        assert type(load_model(path)) is ByteLatentPredictiveCoder

    again = loaded.score(valid)
    assert loaded.fingerprint() == fingerprint
    assert again.total_bits == held_out.total_bits, "a loaded model must predict exactly as the saved one"
    print(f"reloaded model: {again.bits_per_byte:.4f} bits per byte (identical)")

    print("\n--- sample (temperature 0.8, top-k 40) ---")
    sample = loaded.generate(ByteCodec.encode_text("Enter "), steps=300, temperature=0.8, top_k=40, seed=0)
    print(ByteCodec.decode_text(sample))


if __name__ == "__main__":
    main()

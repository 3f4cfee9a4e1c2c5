"""``decepticons export``: a saved model's probability record over a corpus, written as a bridge file.

Example::

    decepticons export --load mixer.safetensors --input train.txt --output mixer.bridge.safetensors --top-k 16
    decepticons train --model causal-bank --input train.txt --steps 2000 --teacher mixer.bridge.safetensors

The file format is :mod:`decepticons.adapters.bridge_file`. An adaptive teacher (the mixer) keeps learning
while it predicts, starting from its saved state: saved before fitting, its rows over the corpus are its
prequential predictions (each byte predicted before it is learned); saved after fitting on the same corpus,
they are in-sample and over-confident on bytes it has already counted.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..cli_common import read_input
from ..errors import InputError
from ..runtime.files import check_output_path
from .bridge import BridgeExportAdapter


def run_export(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Export ``--load``'s rows over ``--input`` into ``--output``; returns ``(payload, text)`` to print."""
    from ..registry import load_model

    if args.output == "-":
        raise InputError("--output needs a file name (a bridge file cannot go to standard output)")
    check_output_path(args.output, "--output", {"--input": args.input, "--load": args.load})
    if isinstance(args.top_k, bool) or not 1 <= args.top_k <= 256:
        raise InputError(f"--top-k must be an integer in 1..256, got {args.top_k}")
    teacher = load_model(args.load)
    data = read_input(args.input)
    record = BridgeExportAdapter(teacher, top_k=args.top_k).export(data, args.output)
    info = {**record.describe(), "file_bytes": os.path.getsize(args.output)}
    text = "\n".join([
        f"teacher            {record.teacher_kind} ({record.teacher_fingerprint[:16]}, "
        f"{'causal' if record.teacher_causal else 'non-causal'})",
        f"corpus             {args.input} ({record.length:,} bytes, sha256 {record.corpus_sha256[:16]})",
        f"teacher bits/byte  {record.teacher_bits_per_byte:.4f}",
        f"mean entropy       {info['mean_entropy_bits']:.4f} bits; top-{record.top_k} mass "
        f"{info['mean_top_k_mass']:.4f}",
        f"written            {args.output} ({info['file_bytes']:,} bytes)",
    ])
    return {"export": info}, text


__all__ = ["run_export"]

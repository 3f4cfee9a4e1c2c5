"""The adapters' commands: ``decepticons oracle`` (causal against oracle bits per byte, per byte class) and
``decepticons reconstruct`` (masked-span reconstruction from both sides against the left context only).

Both fit their bidirectional model on ``--train`` (default: the embedded demo corpus's training plays) unless
``--oracle`` names a saved oracle. User mistakes are :class:`~decepticons.errors.InputError` s, printed by the
main command as one ``error:`` line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

from .cli_common import check_save_path, emit, parse_overrides, read_input
from .errors import InputError


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    emit(args, payload, text)


def _train_bytes(args: argparse.Namespace) -> Any:
    if args.train is not None:
        return read_input(args.train, allow_binary=True, name="--train")
    from .data import embedded_corpus

    return embedded_corpus()[0]


def _build(cls: Any, args: argparse.Namespace) -> Any:
    try:
        return cls(**parse_overrides(args.config), seed=args.seed)
    except TypeError as e:
        raise InputError(f"bad --config: {e}") from None


def cmd_oracle(args: argparse.Namespace) -> int:
    from .adapters.oracle import OracleAnalysisAdapter
    from .registry import load_model

    if args.save is not None:
        check_save_path(args.save, {"--input": args.input, "--train": args.train, "--load": args.load})
    data = read_input(args.input)
    causal = load_model(args.load) if args.load else None
    if args.oracle:
        if args.config or args.train:
            raise InputError("--oracle gives a fitted oracle; --config and --train set up a new one")
        oracle = cast(OracleAnalysisAdapter, OracleAnalysisAdapter.load(args.oracle))  # load refuses other kinds
    else:
        oracle = _build(OracleAnalysisAdapter, args)
        if not args.quiet and not args.json:
            print("fitting the oracle's forward and backward models ...", file=sys.stderr)
        oracle.fit(_train_bytes(args))
    report = oracle.analyse(data, causal=causal)
    payload: dict[str, Any] = {"oracle": report.to_dict()}
    text = str(report)
    if args.save is not None:
        fp = oracle.save(args.save)
        payload["saved"] = {"path": args.save, "fingerprint": fp}
        text += f"\nsaved oracle       {args.save} (fingerprint {fp[:16]})"
    _emit(args, payload, text)
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .adapters.masks import MaskConfig, check_spans, parse_spans
    from .adapters.reconstruct import NoncausalReconstructiveAdapter
    from .runtime.files import check_output_path, write_output

    if args.output is not None:
        check_output_path(args.output, "--output", {"--input": args.input, "--train": args.train})
    data = read_input(args.input)
    if args.spans is not None:
        spans = parse_spans(args.spans)
    else:
        from .adapters.masks import make_spans

        mask = MaskConfig(span_length=args.span_length, distribution=args.distribution, fraction=args.fraction,
                          seed=args.seed)
        spans = make_spans(len(data), mask)
    spans = check_spans(spans, len(data))  # before fitting
    model = _build(NoncausalReconstructiveAdapter, args)
    if not args.quiet and not args.json:
        print("fitting the forward and backward models ...", file=sys.stderr)
    model.fit(_train_bytes(args))
    report = model.evaluate(data, spans=spans)
    if args.output is not None:
        write_output(args.output, report.filled.tobytes(), "--output")
    _emit(args, {"reconstruct": report.to_dict()}, str(report))
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``oracle`` and ``reconstruct`` to the main parser's subcommands."""
    p = sub.add_parser("oracle", parents=[common],
                       help="how determined each byte is given both sides: causal vs oracle bits per byte")
    p.add_argument("--input", required=True, help="file to analyse")
    p.add_argument("--load", help="saved causal model to compare with (default: the oracle's forward model)")
    p.add_argument("--oracle", help="saved oracle (decepticons fit --model oracle --save ...) instead of fitting one")
    p.add_argument("--train", help="corpus the oracle is fitted on (default: the embedded demo corpus)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="oracle option (OracleConfig)")
    p.add_argument("--save", help="write the fitted oracle to this .safetensors file")
    p.set_defaults(func=cmd_oracle)

    p = sub.add_parser("reconstruct", parents=[common],
                       help="reconstruct masked spans from both sides; bits per masked byte, span accuracy")
    p.add_argument("--input", required=True, help="file whose spans are masked and reconstructed")
    p.add_argument("--train", help="corpus the models are fitted on (default: the embedded demo corpus)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="option (ReconstructConfig)")
    p.add_argument("--spans", help="spans to mask, START:END[,START:END...] (default: generated, see below)")
    p.add_argument("--span-length", type=int, default=4, help="(mean) span length of generated spans (default 4)")
    p.add_argument("--distribution", default="fixed", help="span lengths: fixed, uniform or geometric")
    p.add_argument("--fraction", type=float, default=0.1, help="share of bytes masked (default 0.1)")
    p.add_argument("--output", help="write the input with every span reconstructed to this file")
    p.set_defaults(func=cmd_reconstruct)

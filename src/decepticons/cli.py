"""Command-line interface: ``decepticons fit | score | compare | rollout | generate | info | compress | decompress |
train | export | data | bench | oracle | reconstruct`` (compare in :mod:`decepticons.cli_compare`, bench in
:mod:`decepticons.cli_bench`, the last two in
:mod:`decepticons.cli_adapters`).

Every subcommand works on any registered model through the predictor contract. User mistakes (missing
files, empty input, bad arguments, corrupted model files) print one ``error:`` line and exit with status 2;
only bugs print a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from .cli_adapters import add_commands as add_adapter_commands
from .cli_bench import add_bench_parser
from .cli_common import add_backend_argument, check_save_path, emit, parse_overrides, read_input
from .cli_compare import add_compare_parser, add_html_arguments
from .errors import DecepticonsError, InputError
from .predictor import MAX_SEED
from .version import __version__

if TYPE_CHECKING:
    import numpy as np

    from .predictor import CausalPredictor

EXIT_USER_ERROR = 2


# ---------------------------------------------------------------------------------------------- helpers
def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    emit(args, payload, text)


def _load(path: str, backend: str = "torch") -> Any:
    from .backends import load_model

    return load_model(path, backend)


def _sample_text(model: Any, args: argparse.Namespace, steps: int) -> str:
    import numpy as np

    from .codecs import ByteCodec

    # bytes of the command line that are not UTF-8 reach argparse as surrogate escapes: they mean those bytes
    if not 1 <= args.threads <= 1024:
        raise InputError(f"--threads must be an integer in 1..1024, got {args.threads}")
    if "torch" in sys.modules:  # one byte per step is too little work to share: threads only add overhead
        import torch

        torch.set_num_threads(args.threads)
    prompt = np.frombuffer((args.prompt or "").encode("utf-8", "surrogateescape"), dtype=np.uint8)
    out = model.generate(prompt, steps=steps, greedy=args.greedy, temperature=args.temperature,
                         top_k=args.top_k, seed=args.seed)
    return ByteCodec.decode_text(out)


# ---------------------------------------------------------------------------------------------- commands
def cmd_fit(args: argparse.Namespace) -> int:
    from .data import embedded_corpus
    from .registry import model_class

    if args.workers < 1:
        raise InputError(f"--workers must be an integer >= 1, got {args.workers}")
    if args.save is not None:
        check_save_path(args.save, {"--input": args.input, "--valid": args.valid})
    valid: np.ndarray | None
    if args.input is None:
        train, valid = embedded_corpus()
        source = "embedded Shakespeare comedies (train: 4 plays; held-out: The Two Gentlemen of Verona)"
    else:
        train = read_input(args.input, allow_binary=args.allow_binary)
        valid = read_input(args.valid, allow_binary=args.allow_binary) if args.valid else None
        source = args.input
    if args.load:
        if args.config:
            raise DecepticonsError("--config sets up a new model; a model given by --load keeps its own configuration")
        if not args.cont:
            raise InputError("fit starts from scratch, so it would discard what --load's model learned: add "
                             "--continue to keep learning on --input from the loaded state, or drop --load")
        model = _load(args.load)
    elif args.cont:
        raise InputError("--continue needs --load (the model to continue from)")
    else:
        cls = model_class(args.model)
        try:
            model = cls(**parse_overrides(args.config), seed=args.seed)
        except TypeError as e:  # an option this model does not take
            raise DecepticonsError(f"bad --config for model {args.model!r}: {e}") from None
    if not args.quiet and not args.json:
        print(f"fitting {model.name} on {source} ({len(train):,} bytes)", file=sys.stderr)
    fit = model.partial_fit if args.cont else model.fit
    report = fit(train, valid=valid, workers=args.workers)
    payload: dict[str, Any] = {"fit": report.to_dict()}
    text = str(report)
    if args.save is not None:
        fp = model.save(args.save)
        payload["saved"] = {"path": args.save, "fingerprint": fp}
        text += f"\nsaved              {args.save} (fingerprint {fp[:16]})"
    if args.generate:
        sample = _sample_text(model, args, args.generate)
        payload["sample"] = sample
        text += "\n\n--- sample ---\n" + sample
    _emit(args, payload, text)
    return 0


def _frozen_or_fail(model: CausalPredictor, path: str) -> CausalPredictor:
    """``model`` frozen (:func:`decepticons.bench.frozen`: nothing it scores changes it), or an
    :class:`InputError` when switching its adaptation off is not possible."""
    from .bench.runner import frozen

    still = frozen(model)
    if still is None:
        raise InputError(f"{path}: this {model.name} model keeps learning while it scores and has no switch "
                         "to turn that off; score it without --static")
    return still


def cmd_score(args: argparse.Namespace) -> int:
    import numpy as np

    from .runtime.accounting import ArtifactAccounting
    from .runtime.files import check_output_path, write_output

    structured = args.trace is not None and args.trace.endswith(".safetensors")
    if args.trace is not None:
        check_output_path(args.trace, "--trace", {"--input": args.input, "--load": args.load})
    if args.html is not None:
        check_output_path(args.html, "--html", {"--input": args.input, "--load": args.load})
    model = _load(args.load, args.backend)
    adaptive = bool(model.adaptive)
    if args.static:
        model = _frozen_or_fail(model, args.load)
    data = read_input(args.input)
    report = model.score(data, trace=args.trace is not None and not structured)
    payload: dict[str, Any] = {"score": report.to_dict(), "static": bool(args.static or not adaptive)}
    if args.html is not None:
        from .cli_compare import html_slice
        from .runtime.html_report import write_html

        write_html(args.html, html_slice(args, data), [model], names=[os.path.basename(args.load)])
        payload["html"] = {"path": args.html}
    if structured:  # one record per position: bits, entropy, top-1 and what fired (decepticons.runtime.traces)
        from .runtime.traces import trace

        tr = trace(model, data, fingerprint=model.fingerprint())
        tr.save(args.trace)
        payload["trace"] = {"path": args.trace, "columns": list(tr.columns)}
    elif args.trace is not None:  # per-byte bits as .npy
        import io

        buf = io.BytesIO()
        np.save(buf, report.trace.astype(np.float32))
        write_output(args.trace, buf.getvalue(), "--trace")
    acc = ArtifactAccounting.of(model, report.bytes, report.total_bits, model_path=args.load)
    payload["accounting"] = acc.to_dict()
    _emit(args, payload, f"{report}\n{acc}")
    return 0


def cmd_rollout(args: argparse.Namespace) -> int:
    from .runtime.rollout import evaluate_rollout_curve

    if args.plot is not None:
        from .runtime.files import check_output_path

        check_output_path(args.plot, "--plot", {"--input": args.input, "--load": args.load})
    model = _load(args.load)
    data = read_input(args.input)
    curve = evaluate_rollout_curve(model, data, args.steps, starts=args.starts,
                                   context=None if args.context < 0 else args.context,
                                   temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    payload = {"rollout": curve.to_dict()}
    if args.plot is not None:
        from .runtime.rollout_plot import plot_rollout

        if not plot_rollout({"greedy": curve.greedy, "sampled": curve.sampled}, args.plot,
                            title=f"{model.name}: {args.input}"):
            raise InputError("--plot needs matplotlib, which is not installed here (pip install matplotlib)")
        payload["plot"] = args.plot
    _emit(args, payload, str(curve))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    model = _load(args.load, args.backend)
    sample = _sample_text(model, args, args.steps)
    if args.json:
        emit(args, {"sample": sample}, sample)
    else:
        print(sample)
    return 0


def config_keys(kind: str) -> list[dict[str, Any]]:
    """``--config`` keys of a registered model kind: name, default, allowed range and doc line."""
    import dataclasses

    from .registry import model_class
    from .validation import field_docs

    cls = model_class(kind)
    cfg = getattr(cls, "config_class", None) or getattr(cls, "config_cls", None)
    if not isinstance(cfg, type) or not dataclasses.is_dataclass(cfg):  # a dataclass, not an instance of one
        raise InputError(f"model kind {kind!r} declares no configuration class")
    return field_docs(cfg)


def _fit_epilog() -> str:
    from .registry import available_models

    return ("model kinds: " + ", ".join(available_models()) + "\n"
            "each kind's --config keys, defaults and ranges: decepticons info --model NAME\n\n"
            "examples:\n"
            "  decepticons fit --prompt \"VALENTINE.\" --generate 300            # the demo corpus, default coder\n"
            "  decepticons fit --model mixer --input train.txt --valid valid.txt --save mixer.safetensors\n"
            "  decepticons fit --model ngram --config orders=5 --input train.txt --save ngram.safetensors\n"
            "  decepticons fit --load ngram.safetensors --continue --input more.txt --save ngram.safetensors")


def cmd_info(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    from .registry import available_models

    if args.model:
        if args.load:
            raise InputError("give --model NAME (a kind's configuration keys) or --load FILE, not both")
        rows = config_keys(args.model)
        width = max([len(r["name"]) for r in rows] + [3])
        lines = [f"--config keys of {args.model} (decepticons fit/train --model {args.model} --config KEY=VALUE):"]
        for r in rows:
            extra = "; ".join(x for x in (r["doc"], r["allowed"]) if x)
            lines.append(f"  {r['name']:<{width}}  default {json.dumps(r['default'], default=str)}"
                         + (f"  ({extra})" if extra else ""))
        emit(args, {"model": args.model, "config": rows}, "\n".join(lines))
        return 0
    if args.load:
        from .runtime.checkpoints import read_model_file

        mf = read_model_file(args.load)
        payload = {"path": args.load, "kind": mf.kind, "version": mf.version, "fingerprint": mf.fingerprint,
                   "config": mf.config, "parameters": int(sum(t.size for t in mf.tensors.values())),
                   "file_bytes": os.path.getsize(args.load), "extra": mf.extra}
        text = "\n".join([f"model        {mf.kind}", f"written by   decepticons {mf.version}",
                          f"fingerprint  {mf.fingerprint}", f"values       {payload['parameters']:,}",
                          f"file size    {payload['file_bytes']:,} bytes",
                          "config       " + json.dumps(mf.config, sort_keys=True)])
    else:
        backends = {name: find_spec(name) is not None for name in ("torch", "mlx", "numba", "matplotlib")}
        kernels = ("compiled (numba)" if backends["numba"] else
                   "interpreted reference: the count memories and the mixer run about 80x slower; pip install numba")
        payload = {"version": __version__, "models": available_models(), "backends": backends,
                   "kernels": "compiled" if backends["numba"] else "interpreted"}
        text = "\n".join([f"decepticons {__version__}", "models       " + ", ".join(available_models()),
                          "backends     " + ", ".join(f"{k}: {'yes' if v else 'no'}"
                                                      for k, v in backends.items()),
                          f"kernels      {kernels}"])
    _emit(args, payload, text)
    return 0


#: the model ``compress`` / ``decompress`` use without ``--load``: an untrained bit-level context mixer, which
#: learns the file as it codes it, as a classic compressor does (the best generic model on text, source code
#: and markup alone; see the ``cm`` section of docs/benchmarks.md)
DEFAULT_COMPRESSOR = "cm"


def _coding_model(args: argparse.Namespace) -> tuple[Any, str]:
    """The model of ``compress`` / ``decompress`` and how the output names it: ``--load``'s file, or, without
    it, a fresh default-config ``--model`` (default :data:`DEFAULT_COMPRESSOR`) that learns while it codes."""
    if args.load is not None:
        if args.model is not None:
            raise InputError("--model names the untrained model used without --load; give one of them")
        return _load(args.load, args.backend), args.load
    from .registry import available_models, model_class

    kind = args.model or DEFAULT_COMPRESSOR
    if kind not in available_models():
        raise InputError(f"unknown model {kind!r}; known: {', '.join(available_models())}")
    if args.backend != "torch":
        raise InputError("--backend applies to a saved model file (--load)")
    model = model_class(kind)()
    if not model.causal:
        raise InputError(f"a {kind} model reads the bytes after each position (not causal): it cannot code a file")
    if not model.adaptive:
        raise InputError(f"an untrained {kind} model does not learn while it codes, so it would code every byte "
                         f"alike: fit one (decepticons fit --model {kind} ...) and pass --load")
    return model, f"untrained {kind} (default configuration)"


def cmd_compress(args: argparse.Namespace) -> int:
    from .coding import compress_file
    from .runtime.accounting import ArtifactAccounting

    model, source = _coding_model(args)
    report = compress_file(model, args.input, args.output)
    payload: dict[str, Any] = {"compress": report.to_dict(), "model": source}
    text = str(report) + ("" if args.load else "\nnote           no --load: an untrained default model learned while "
                                                 "it coded; decompress without --load (and the same --model)")
    if report.original_bytes and args.load:  # model file + compressed file (header included) = what a decoder needs
        acc = ArtifactAccounting.of(model, report.original_bytes, 8.0 * report.compressed_bytes,
                                    model_path=args.load, code_source="compressed file")
        payload["accounting"] = acc.to_dict()
        text += f"\n{acc}"
    _emit(args, payload, text)
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    from .coding import decompress_file
    from .errors import CompressedFileError

    model, source = _coding_model(args)
    try:
        report = decompress_file(model, args.input, args.output)
    except CompressedFileError as e:
        if args.load is None and "different model" in str(e):
            raise CompressedFileError(f"{e}; without --load decompress uses {source}: pass the --model or --load "
                                      "that compressed the file") from None
        raise
    _emit(args, {"decompress": report.to_dict(), "model": source}, str(report))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("`decepticons train` needs PyTorch, which is not installed here "
                               "(pip install torch)") from None
    from .training.cli import run_train

    teacher = None
    if args.teacher is not None:
        from .adapters.bridge_file import read_bridge_file

        teacher = read_bridge_file(args.teacher)
    return run_train(args, teacher)


def cmd_export(args: argparse.Namespace) -> int:
    from .adapters.export_cli import run_export

    payload, text = run_export(args)
    _emit(args, payload, text)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from .data import SUMS_FILE, corpus_table, write_corpora

    if args.list:
        rows = corpus_table()
        text = "\n".join(f"{r['name']:<14} {r['kind']:<12} train {r['train_bytes']:>10,}  valid {r['valid_bytes']:>9,}"
                         f"  {'cached' if r['cached'] else 'not cached':<10}  {r['source']}" for r in rows)
        _emit(args, {"corpora": rows}, text)
        return 0
    if not args.output:
        raise InputError("--output DIR is required (or --list to see the corpora)")
    written = write_corpora(args.names, args.output)
    payload = {"output": args.output, "sums": os.path.join(args.output, SUMS_FILE),
               "files": [{"path": w.path, "bytes": w.bytes, "sha256": w.sha256} for w in written]}
    text = "\n".join(f"{w.sha256[:16]}  {w.bytes:>10,}  {os.path.join(args.output, w.path)}" for w in written)
    _emit(args, payload, text + f"\nchecksums in {os.path.join(args.output, SUMS_FILE)}")
    return 0


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common.add_argument("--json", action="store_true", help="print the whole report as JSON")
    common.add_argument("--quiet", action="store_true", help="no progress output or decoration")

    sampling = argparse.ArgumentParser(add_help=False)
    sampling.add_argument("--prompt", default="", help="text to continue")
    sampling.add_argument("--greedy", action="store_true", help="always take the most likely byte")
    sampling.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    sampling.add_argument("--top-k", type=int, default=None, help="sample among the k most likely bytes")
    sampling.add_argument("--threads", type=int, default=1,
                          help="torch threads while generating (default 1: a step per byte is too small to share)")

    parser = argparse.ArgumentParser(prog="decepticons",
                                     description="Fit, score, generate and compress with byte predictors.")
    parser.add_argument("--version", action="version", version=f"decepticons {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("fit", parents=[common, sampling], help="fit a closed-form model on a corpus",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_fit_epilog())
    p.add_argument("--input", help="training corpus (default: the embedded demo corpus with a held-out play)")
    p.add_argument("--valid", help="held-out file to report bits per byte on")
    p.add_argument("--model", default="coder", help="registered model kind (default: coder)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="model configuration override")
    p.add_argument("--load", help="a saved model to keep learning (with --continue)")
    p.add_argument("--continue", dest="cont", action="store_true",
                   help="keep learning from --load's state (count memories, the mixer, torch models); "
                        "without it fit starts from scratch")
    p.add_argument("--save", help="write the fitted model to this .safetensors file")
    p.add_argument("--generate", type=int, default=0, metavar="N", help="print N generated bytes after fitting")
    p.add_argument("--workers", type=int, default=1, help="worker processes for the statistics pass")
    p.add_argument("--allow-binary", action="store_true", help="accept input that does not look like text")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("score", parents=[common], help="bits per byte of a saved model on a file")
    p.add_argument("--load", required=True, help="saved model file")
    p.add_argument("--input", required=True, help="file to score")
    p.add_argument("--trace", help="per-byte bits to this .npy file, or one record per position (bits, entropy, "
                                   "top-1, what fired) to a .safetensors trace file")
    p.add_argument("--static", action="store_true",
                   help="score the model frozen: an adaptive model (one that keeps learning from the bytes it has "
                        "scored, as compressors do) does not learn while it scores; compare with the default "
                        "adaptive (prequential) figure")
    add_html_arguments(p)
    add_backend_argument(p)
    p.set_defaults(func=cmd_score)
    add_compare_parser(sub, common, _emit)

    p = sub.add_parser("rollout", parents=[common],
                       help="free-running generation against teacher forcing, step by step")
    p.add_argument("--load", required=True, help="saved model file")
    p.add_argument("--input", required=True, help="held-out text to start from and compare with")
    p.add_argument("--steps", type=int, default=32, help="steps generated from each start (default 32)")
    p.add_argument("--starts", type=int, default=32, help="start positions, spread over the input (default 32)")
    p.add_argument("--context", type=int, default=256,
                   help="prefix bytes before each start (default 256; -1: everything before it)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampled curve's temperature (default 1.0)")
    p.add_argument("--top-k", type=int, default=None, help="sampled curve: draw among the k most likely bytes")
    p.add_argument("--plot", help="write the curves to this PNG (needs matplotlib)")
    p.set_defaults(func=cmd_rollout)

    p = sub.add_parser("generate", parents=[common, sampling], help="sample from a saved model")
    p.add_argument("--load", required=True, help="saved model file")
    p.add_argument("--steps", type=int, default=200, help="bytes to generate (default 200, at most 1048576)")
    add_backend_argument(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("info", parents=[common], help="describe the installation, a model kind or a saved model",
                       epilog="examples: decepticons info; decepticons info --model mixer; "
                              "decepticons info --load coder.safetensors")
    p.add_argument("--load", help="saved model file to describe")
    p.add_argument("--model", help="a registered model kind: list its --config keys with defaults and ranges")
    p.set_defaults(func=cmd_info)

    for name, fn, helptext in (("compress", cmd_compress, "entropy-code a file (with a saved model, or the default)"),
                               ("decompress", cmd_decompress, "restore a file written by compress")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--load", help="saved model file (the same for both directions); without it an untrained "
                                       f"--model (default {DEFAULT_COMPRESSOR}) learns while it codes, as a classic "
                                       "compressor does")
        p.add_argument("--model", help="model kind used untrained when there is no --load (the same for both "
                                       f"directions; default {DEFAULT_COMPRESSOR})")
        p.add_argument("--input", required=True)
        p.add_argument("--output", required=True)
        add_backend_argument(p, "computes the model (a file decompresses only with the backend that compressed it)")
        p.set_defaults(func=fn)

    p = sub.add_parser("train", parents=[common],
                       help="gradient-train a torch model (causal-bank, transformer, mythos)")
    p.add_argument("--model", default="causal-bank", help="registered model kind (default: causal-bank)")
    p.add_argument("--mode", help="causal-bank substrate mode (frozen, learnable_decays, learnable_mixing, "
                                  "learned_recurrence, gated_retention)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="model configuration override")
    p.add_argument("--input", required=True, help="training corpus")
    p.add_argument("--valid", help="held-out corpus (default: the last 5%% of --input)")
    p.add_argument("--budget", help="wall-clock budget, e.g. 90s, 10m, 1h")
    p.add_argument("--steps", type=int, help="optimizer steps (instead of or besides --budget)")
    p.add_argument("--tokens", help="training bytes, e.g. 500k, 28M, 1.5e7: ceil(N / (batch x seq-len)) steps; "
                                    "a step or token budget makes the run independent of the machine's load")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seq-len", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--run-dir", help="folder for checkpoints, metrics.jsonl and the learning-curve plot")
    p.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard scalars (train loss in bits, lr, "
                                                        "held-out bits/byte) into DIR (needs tensorboard)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --run-dir")
    p.add_argument("--load", help="start from a saved model file")
    p.add_argument("--save", help="write the trained model to this .safetensors file")
    p.add_argument("--teacher", help="bridge file over --input: train on its soft targets beside the bytes")
    p.add_argument("--teacher-weight", type=float, default=None, metavar="A",
                   help="share of the teacher term in the loss, 0..1 (default 0.5)")
    add_backend_argument(p, "trains the model (mlx: the same recipe through mlx.optimizers, same model files)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", parents=[common], help="write a saved model's probabilities over a file as a "
                                                        "bridge file (teacher signals)")
    p.add_argument("--load", required=True, help="saved model file (the teacher)")
    p.add_argument("--input", required=True, help="corpus to export the teacher's rows over")
    p.add_argument("--output", required=True, help="bridge file to write (.safetensors)")
    p.add_argument("--top-k", type=int, default=16, help="most likely bytes kept per row, 1..256 (default 16)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("data", parents=[common],
                       help="write the demo, benchmark and transfer corpora into a folder, with SHA256SUMS")
    p.add_argument("names", nargs="*", metavar="NAME", help="corpora to write (default: all; see --list)")
    p.add_argument("--output", help="folder to write NAME/train.txt, NAME/valid.txt and SHA256SUMS into")
    p.add_argument("--list", action="store_true", help="show the corpora: names, kinds, sizes, sources")
    p.set_defaults(func=cmd_data)
    add_adapter_commands(sub, common)
    add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from .runtime.progress import set_quiet

    set_quiet(args.quiet or args.json)
    try:
        if not 0 <= args.seed <= MAX_SEED:
            raise InputError(f"--seed must be an integer in 0..{MAX_SEED}, got {args.seed}")
        return int(args.func(args) or 0)
    except DecepticonsError as e:
        print(f"decepticons {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # the file system said no: a path that is a folder, no permission, disk full
        print(f"decepticons {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "build_parser", "parse_overrides"]

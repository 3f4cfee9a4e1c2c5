"""Training benchmark (section ``training`` of docs/experiments.md).

Phases (each stores its runs in ``docs/figures/training_results.json`` and re-renders the section):

* ``modes``: the causal bank's five substrate modes, each trained ``--mode-budget`` seconds on the train
  split with the shared trainer; held-out bits/byte on the whole valid split, training tokens/s, parameters.
* ``final``: the best mode (lowest held-out bits/byte in the modes table, or ``--best-mode``) trained for
  ``--budget`` seconds, and a nanoGPT-style transformer with a matched parameter count trained for the same
  budget by the same trainer.

Held-out bits/byte is measured on the whole validation split through the predictor contract
(``predictor.score``): a bank trained on detached windows and the transformer both read every row from a
staggered window of their training length (a bank trained with carried state reads the whole history).
Run it under the CPU lock::

    python benchmarks/bench_training.py --phase modes --mode-budget 120
    python benchmarks/bench_training.py --phase final --budget 600
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import ROOT, command_line, git_rev, machine, write_section  # noqa: E402

FIGURES = ROOT / "docs" / "figures"
RESULTS = FIGURES / "training_results.json"
DOC = ROOT / "docs" / "experiments.md"
MODES = ("frozen", "learnable_decays", "learnable_mixing", "learned_recurrence", "gated_retention")
TARGET_BPB = 2.30


def load_data(args: argparse.Namespace):
    from decepticons.data import read_corpus

    if args.train and args.valid:
        return read_corpus(args.train), read_corpus(args.valid)
    from decepticons.data import shakespeare

    paths = shakespeare()  # the benchmark split, fetched once, verified and cached
    return read_corpus(paths["train"]), read_corpus(paths["valid"])


def heldout_bpb(predictor, valid) -> tuple[float, float]:
    """Bits/byte on all of ``valid`` and the seconds it took."""
    import numpy as np

    from decepticons.training import evaluate

    t0 = time.perf_counter()
    bpb = evaluate(predictor, np.asarray(valid))  # = predictor.score(valid): the predictor's own scoring path
    return float(bpb), time.perf_counter() - t0


def train_config(predictor, args: argparse.Namespace, budget: float, mode: str):
    from decepticons.training import TrainConfig

    kw = dict(getattr(predictor, "train_defaults", {}) or {})
    kw.update(budget_seconds=budget, seed=args.seed, device="cpu", mode=mode, eval_every=args.eval_every,
              eval_bytes=args.eval_bytes, log_every=10, checkpoint_seconds=None, plot=True)
    for key in ("batch_size", "seq_len", "lr"):
        if getattr(args, key) is not None:
            kw[key] = getattr(args, key)
    return TrainConfig.from_dict(kw)


def run_one(label: str, predictor, args: argparse.Namespace, budget: float, mode: str, train, valid) -> dict:
    from decepticons.training import train as train_fn

    cfg = train_config(predictor, args, budget, mode)
    run_dir = Path(args.runs) / label.replace(":", "-")
    print(f"[{time.strftime('%H:%M:%S')}] {label}: {predictor.num_parameters():,} parameters, {budget:.0f} s, "
          f"mode {mode}, batch {cfg.batch_size} x {cfg.seq_len}, lr {cfg.lr}", flush=True)
    cpu0, wall0 = os.times(), time.perf_counter()
    res = train_fn(predictor, train, valid, cfg, run_dir=run_dir, progress=False)
    cpu1, wall1 = os.times(), time.perf_counter()
    # share of the machine's cores this run actually got (other processes on the machine lower it)
    cpu_share = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / ((wall1 - wall0) * args.threads)
    bpb, eval_s = heldout_bpb(predictor, valid)
    out = {"label": label, "parameters": predictor.num_parameters(), "config": predictor.config_dict(),
           "train_config": cfg.to_dict(), "steps": res.steps, "tokens": res.tokens, "seconds": res.seconds,
           "tokens_per_second": res.tokens_per_second, "heldout_bpb": bpb, "heldout_bytes": len(valid),
           "heldout_seconds": eval_s, "curve": res.curve, "run_dir": str(run_dir), "cpu_share": cpu_share,
           "loadavg_after": os.getloadavg()[0], "command": command_line()}
    print(f"    -> {res.steps} steps, {res.tokens_per_second:,.0f} tokens/s, held-out {bpb:.4f} bits/byte "
          f"(scored in {eval_s:.1f} s; CPU share {cpu_share:.0%}, load {os.getloadavg()[0]:.1f})", flush=True)
    return out


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def save_results(results: dict) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True))
    os.replace(tmp, RESULTS)


def _share(v: dict) -> str:
    return f"{v['cpu_share']:.0%}" if v.get("cpu_share") is not None else "n/a"


def render(results: dict) -> str:
    from decepticons.training import plot_learning_curves

    lines = ["## Training (shared trainer, CPU)", ""]
    modes = {k: v for k, v in results.items() if k.startswith("mode:")}
    meta = results.get("_meta", {})
    lines.append(f"Machine: {meta.get('machine', machine())}; torch threads {meta.get('threads', '?')}; "
                 f"commit {meta.get('commit', git_rev())}. Corpus: Shakespeare train split "
                 f"({meta.get('train_bytes', 0):,} bytes), held-out = whole valid split "
                 f"({meta.get('valid_bytes', 0):,} bytes). Tokens/s counts training "
                 f"(forward + backward + AdamW) bytes per second of optimizer steps. CPU share = process CPU time / "
                 "(wall time x threads): below 100% means other processes on the machine took cores during the run, "
                 "which lowers tokens/s and so what a fixed wall-clock budget can reach.")
    if meta.get("note"):
        lines[-1] += " " + meta["note"]
    lines.append("")
    final = {k: v for k, v in results.items() if k.startswith("final:")}
    if final:
        budget = next(iter(final.values()))["train_config"]["budget_seconds"]
        lines += [f"### {budget / 60:.0f}-minute budget: best causal-bank mode vs a same-size transformer", "",
                  "| model | train mode | parameters | steps | tokens/s | CPU share | held-out bits/byte |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for v in final.values():
            lines.append(f"| {v['label'][6:]} | {v['train_config']['mode']} | {v['parameters']:,} | {v['steps']:,} "
                         f"| {v['tokens_per_second']:,.0f} | {_share(v)} | {v['heldout_bpb']:.4f} |")
        bank = [v for k, v in final.items() if "causal-bank" in k]
        tf = [v for k, v in final.items() if "transformer" in k]
        if bank:
            b = bank[0]
            ok = "meets" if b["heldout_bpb"] <= TARGET_BPB else "misses"
            lines += ["", f"Target: held-out <= {TARGET_BPB:.2f} bits/byte: the causal bank {ok} it "
                          f"({b['heldout_bpb']:.4f})."]
            if tf:
                t = tf[0]
                verdict = "better than" if b["heldout_bpb"] < t["heldout_bpb"] else "not better than"
                lines[-1] += (f" It is {verdict} the transformer ({t['heldout_bpb']:.4f}, {t['parameters']:,} "
                              f"parameters against the bank's {b['parameters']:,}) under the same budget and "
                              f"trainer.")
        for e in results.get("_earlier", []):
            share = f", CPU share {e['cpu_share']:.0%}" if e.get("cpu_share") is not None else ""
            lines += ["", f"Earlier run: {e['label'][6:]} ({e['parameters']:,} parameters), same budget: "
                          f"{e['steps']:,} steps, {e['tokens_per_second']:,.0f} tokens/s{share}, held-out "
                          f"{e['heldout_bpb']:.4f} bits/byte."]
        lines += ["", "![learning curves](figures/training_bank_vs_transformer.png)", ""]
        plot_learning_curves({v["label"][6:]: v["curve"] for v in final.values()},
                             FIGURES / "training_bank_vs_transformer.png",
                             title=f"{budget / 60:.0f}-minute CPU budget, same trainer")
        cmds = sorted({v.get("command") or meta.get("final_command") for v in final.values()} - {None})
        for cmd in cmds:
            lines += [f"Command: `{cmd}`", ""]
    if modes:
        budget = next(iter(modes.values()))["train_config"]["budget_seconds"]
        ih = sorted({v["config"].get("input_hidden", 0) for v in modes.values()})
        lines += [f"### Substrate modes ({budget:.0f} s each; a shorter budget than the headline run)", "",
                  f"Causal-bank configuration: the default of commit {meta.get('modes_commit', meta.get('commit'))} "
                  f"with the substrate mode changed (input_hidden = {', '.join(map(str, ih))}; every run's full "
                  f"configuration is in `docs/figures/training_results.json`).", "",
                  "| substrate mode | train mode | parameters | steps | tokens/s | CPU share | held-out bits/byte |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for m in MODES:
            v = modes.get(f"mode:{m}")
            if v:
                lines.append(f"| {m} | {v['train_config']['mode']} | {v['parameters']:,} | {v['steps']:,} | "
                             f"{v['tokens_per_second']:,.0f} | {_share(v)} | {v['heldout_bpb']:.4f} |")
        lines += ["", "![substrate modes](figures/training_modes.png)", ""]
        plot_learning_curves({k[5:]: v["curve"] for k, v in modes.items()}, FIGURES / "training_modes.png",
                             title=f"causal-bank substrate modes, {budget:.0f} s each")
        cmd = meta.get("modes_command")
        if cmd:
            lines += [f"Command: `{cmd}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global FIGURES, RESULTS, DOC
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", choices=("modes", "final", "all", "render"), default="all")
    ap.add_argument("--train", help="training text (default: the Shakespeare benchmark split)")
    ap.add_argument("--valid", help="held-out text")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated substrate modes for the table")
    ap.add_argument("--mode-budget", type=float, default=120.0, help="seconds per mode in the table")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the headline runs")
    ap.add_argument("--best-mode", help="substrate mode for the headline run (default: best of the table)")
    ap.add_argument("--train-mode", default="carried", choices=("detached", "carried"),
                    help="trainer mode for the causal bank (the transformer is always detached)")
    ap.add_argument("--bank-config", action="append", default=[], metavar="KEY=VALUE",
                    help="causal-bank configuration override")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seq-len", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-bytes", type=int, default=32768)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-transformer", action="store_true")
    ap.add_argument("--skip-bank", action="store_true",
                    help="headline phase: only the transformer, matched to the best mode's parameter count")
    ap.add_argument("--figures", default=str(FIGURES), help="folder for plots and the results JSON")
    ap.add_argument("--doc", default=str(DOC), help="benchmarks markdown file to write the section into")
    ap.add_argument("--runs", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "decepticons-bench-training"))
    args = ap.parse_args(argv)

    import torch

    from decepticons.cli import parse_overrides
    from decepticons.registry import model_class

    torch.set_num_threads(args.threads)
    FIGURES = Path(args.figures)
    RESULTS = FIGURES / "training_results.json"
    DOC = Path(args.doc)
    results = load_results()
    if args.phase == "render":
        write_section("training", render(results), doc=DOC)
        return 0
    train, valid = load_data(args)
    meta = results.setdefault("_meta", {})
    meta.update(machine=machine(), threads=args.threads, commit=git_rev(), train_bytes=len(train),
                valid_bytes=len(valid))
    Bank = model_class("causal-bank")
    bank_kw = parse_overrides(args.bank_config)

    if args.phase in ("modes", "all"):
        meta["modes_command"] = command_line()
        meta["modes_commit"] = git_rev()
        for m in [s.strip() for s in args.modes.split(",") if s.strip()]:
            pred = Bank(**{**bank_kw, "substrate_mode": m}, seed=args.seed)
            results[f"mode:{m}"] = run_one(f"mode:{m}", pred, args, args.mode_budget, args.train_mode, train, valid)
            save_results(results)
            write_section("training", render(results), doc=DOC)

    if args.phase in ("final", "all"):
        meta["final_command"] = command_line()
        best = args.best_mode
        if best is None:
            table = {k[5:]: v["heldout_bpb"] for k, v in results.items() if k.startswith("mode:")}
            best = min(table, key=table.get) if table else "gated_retention"
        pred = Bank(**{**bank_kw, "substrate_mode": best}, seed=args.seed)
        for k in [k for k in results if k.startswith("final:causal-bank") and not args.skip_bank]:
            old = results.pop(k)  # earlier headline runs stay listed (no picking the best of several)
            results.setdefault("_earlier", []).append({x: old[x] for x in (
                "label", "parameters", "steps", "tokens_per_second", "heldout_bpb", "cpu_share", "seconds")
                if x in old})
        if not args.skip_bank:
            label = f"final:causal-bank {best}"
            results[label] = run_one(label, pred, args, args.budget, args.train_mode, train, valid)
            save_results(results)
            write_section("training", render(results), doc=DOC)
        if not args.skip_transformer:
            from decepticons.transformer import matched_config
            from decepticons.transformer.predictor import TransformerPredictor

            tcfg = matched_config(pred.num_parameters())
            tf = TransformerPredictor(tcfg, seed=args.seed)
            targs = argparse.Namespace(**{**vars(args), "seq_len": tcfg.block_size, "lr": None})
            label = f"final:transformer d{tcfg.d_model} L{tcfg.n_layer}"
            for k in [k for k in results if k.startswith("final:transformer")]:
                old = results.pop(k)
                results.setdefault("_earlier", []).append({x: old[x] for x in (
                    "label", "parameters", "steps", "tokens_per_second", "heldout_bpb", "cpu_share", "seconds")
                    if x in old})
            results[label] = run_one(label, tf, targs, args.budget, "detached", train, valid)
            save_results(results)
            write_section("training", render(results), doc=DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ablations of the control / view / readout mechanisms against the default coder, on the Shakespeare split.

Every row fits one configuration on the training bytes and scores the held-out bytes, in a fresh child
process: held-out bits/byte, delta against its base (the default coder for coder rows, the state-view
frozen-readout expert for readout rows), fit and scoring throughput, the readout's feature count and the
readout-alone hold-out figure (the view's effect on the ridge readout before the count chain). Each mechanism
appears on (its configuration) and off (the same configuration with that mechanism disabled).

    python benchmarks/ablations.py --train T --valid V [--train-bytes N --valid-bytes M]
        [--rows name,name] [--results FILE] [--lock FILE] [--report-only]

``--results`` keeps the rows measured so far (runs can be split and resumed); ``--lock`` takes an exclusive
lock on FILE around each row, so timings never overlap with other measurements; ``--report-only`` writes the
section from ``--results`` without measuring. Writes section ``ablations`` of docs/experiments.md.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, machine, write_section  # noqa: E402

_FIXED = {"segmenter": {"min_patch": 5, "max_patch": 5, "target_patch": 5}}
_WIDE = {"substrate": "linear_memory", "substrate_options": {"n_decays": 24, "embed_dim": 32}}

#: name -> (mechanism, state, base row, model kind, configuration)
ROWS: dict[str, tuple[str, str, str, str, dict]] = {
    "default": ("default coder (state view)", "base", "default", "coder", {}),
    "byte_latent": ("byte-latent view (all parts)", "on", "default", "coder", {"view": "byte_latent"}),
    "byte_latent-segmenter": ("learned segmentation", "off: fixed 5-byte patches", "byte_latent", "coder",
                              {"view": "byte_latent", "view_options": _FIXED}),
    "byte_latent-commit": ("latent commitment", "off", "byte_latent", "coder",
                           {"view": "byte_latent", "view_options": {"commit": False}}),
    "byte_latent-surprise": ("predictive surprise (byte latent)", "off", "byte_latent", "coder",
                             {"view": "byte_latent", "view_options": {"surprise": False}}),
    "hierarchical": ("hierarchical view (all parts)", "on", "default", "coder", {"preset": "hierarchical"}),
    "hierarchical-gates": ("pathway gates", "off", "hierarchical", "coder",
                           {"preset": "hierarchical", "view_options": {"gates": False}}),
    "hierarchical-surprise": ("cross-level surprise", "off", "hierarchical", "coder",
                              {"preset": "hierarchical", "view_options": {"surprise": False}}),
    "hierarchical-view": ("hierarchical view", "off: hierarchical substrate, state view", "hierarchical", "coder",
                          {"substrate": "hierarchical"}),
    "linear_memory": ("linear-memory view (all parts)", "on", "default", "coder", {"preset": "linear_memory"}),
    "linear_memory-hormones": ("hormone modulation", "off", "linear_memory", "coder",
                               {"preset": "linear_memory", "view_options": {"hormones": False}}),
    "linear_memory-surprise": ("predictive surprise (bank)", "off", "linear_memory", "coder",
                               {"preset": "linear_memory", "view_options": {"surprise": False}}),
    "linear_memory-bands": ("band statistics", "off", "linear_memory", "coder",
                            {"preset": "linear_memory", "view_options": {"band_stats": False}}),
    "sampled": ("sampled multiscale (768-wide bank)", "on", "default", "coder", {"preset": "sampled"}),
    "sampled-off": ("sampled multiscale", "off: the whole 768-wide state", "sampled", "coder", dict(_WIDE)),
    "expert": ("frozen-readout expert, state view", "base", "expert", "frozen-readout", {}),
    "expert-hierarchical": ("frozen-readout expert, hierarchical preset", "on", "expert", "frozen-readout",
                            {"substrate": "hierarchical", "view": "hierarchical"}),
    "expert-routed": ("summary router + bridge features over both routes", "on", "expert-hierarchical",
                      "frozen-readout", {"routes": ["hierarchical"]}),
}

CHILD = r"""
import json, resource, sys, time
import numpy as np
from decepticons.data import read_corpus
from decepticons.registry import model_class
kind, config, train, valid, ntr, nva = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], \
    int(sys.argv[5]), int(sys.argv[6])
tr, va = np.asarray(read_corpus(train))[:ntr], np.asarray(read_corpus(valid))[:nva]
m = model_class(kind)(**config)
r = m.fit(tr)
t = time.perf_counter(); s = m.score(va); score_s = time.perf_counter() - t
views = m.views if kind == "frozen-readout" else [m.view]
d = r.details
alone = d.get("substrate_only_holdout_bits_per_byte") or d.get("routed_holdout_bits_per_byte") \
    or d.get("route0_holdout_bits_per_byte")
print(json.dumps({"valid_bpb": s.bits_per_byte, "fit_kbs": len(tr) / r.seconds / 1e3,
                  "score_kbs": len(va) / score_s / 1e3, "features": int(sum(v.feature_size for v in views)),
                  "readout_alone_bpb": alone, "train_bytes": len(tr), "valid_bytes": len(va),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@contextlib.contextmanager
def _locked(path: str | None):
    if path is None:
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def measure(name: str, args: argparse.Namespace) -> dict:
    _, _, _, kind, config = ROWS[name]
    with _locked(args.lock):
        r = subprocess.run([sys.executable, "-c", CHILD, kind, json.dumps(config), args.train, args.valid,
                            str(args.train_bytes), str(args.valid_bytes)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"row {name} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


#: a change of held-out bits/byte smaller than this is reported as no clear effect
EFFECT = 0.002


def _effect(d: float, state: str) -> str:
    """``helps`` / ``hurts`` / ``none`` for a mechanism from its row's delta (an ``off`` row reverses the sign)."""
    d = d if state == "on" else -d
    return "helps" if d < -EFFECT else ("hurts" if d > EFFECT else "none")


def _verdict(name: str, res: dict, results: dict) -> str:
    _, state, base, _, _ = ROWS[name]
    if state == "base" or base not in results:
        return ""
    out = _effect(res["valid_bpb"] - results[base]["valid_bpb"], state)
    a, b = res["readout_alone_bpb"], results[base]["readout_alone_bpb"]
    if ROWS[name][3] == "coder" and a is not None and b is not None:
        out += f"; readout alone: {_effect(a - b, state)}"
    return out


def _conclusion(results: dict) -> str:
    """Which coder configuration is best, and whether it is as fast as the default."""
    if "default" not in results:
        return ""
    coder = {n: r for n, r in results.items() if n in ROWS and ROWS[n][3] == "coder"}
    best = min(coder, key=lambda n: coder[n]["valid_bpb"])
    d = coder[best]["valid_bpb"] - results["default"]["valid_bpb"]
    spread = max(abs(r["valid_bpb"] - results["default"]["valid_bpb"]) for r in coder.values())
    fast = coder[best]["fit_kbs"] >= results["default"]["fit_kbs"] and \
        coder[best]["score_kbs"] >= results["default"]["score_kbs"]
    text = (f"Coder: the largest change of held-out bits/byte from any view is {spread:.5f}; the best row is "
            f"`{best}` ({d:+.5f}), {'at' if fast else 'slower than'} the default's speed. ")
    if best == "default" or d > -EFFECT or not fast:
        text += ("The default stays the state view: no configuration is clearly better at equal or better speed. "
                 "The exact-context count chain above the readout decides almost every byte, so a better readout "
                 "(see the readout-alone column) moves the coder's figure very little.")
    else:
        text += f"On this run `{best}` is better at equal or better speed."
    return text


def report(results: dict, args: argparse.Namespace) -> str:
    any_row = next(iter(results.values()))
    cmd = ("python benchmarks/ablations.py --train TRAIN --valid VALID "
           f"--train-bytes {any_row['train_bytes']} --valid-bytes {any_row['valid_bytes']}")
    md = [
        "## Ablations: control, views and readouts",
        "",
        f"Command: `{cmd}` (TRAIN, VALID: the Shakespeare split's train.txt and valid.txt; the first "
        f"{any_row['train_bytes']:,} and {any_row['valid_bytes']:,} bytes) at commit `{git_rev()}`. Machine: "
        f"{machine()}. One fresh process per row, one run each (throughputs on a shared machine are indicative).",
        "",
        "Coder rows: `ByteLatentPredictiveCoder(**config)`, base the default coder; *readout alone* is the "
        "substrate + view + ridge readout on the tuning hold-out, before the exact-context count chain. Readout "
        "rows: `FrozenReadoutExpert(**config)` (no count chain), base its state-view configuration. An `off` row "
        "disables one mechanism of the row above it; its delta is against that row, so a positive delta means the "
        "mechanism helps.",
        "",
        f"The verdict names the mechanism's effect on held-out bits (a change under {EFFECT} is `none`) and, for "
        "coder rows, on the readout alone.",
        "",
        "| row | mechanism | state | base | valid bits/byte | delta | readout alone (hold-out) | delta | features "
        "| fit KB/s | score KB/s | verdict |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in ROWS:
        if name not in results:
            continue
        mech, state, base, _, _ = ROWS[name]
        r = results[name]
        has_base = state != "base" and base in results
        delta = f"{r['valid_bpb'] - results[base]['valid_bpb']:+.5f}" if has_base else ""
        alone = "" if r["readout_alone_bpb"] is None else f"{r['readout_alone_bpb']:.4f}"
        a_delta = ""
        if has_base and r["readout_alone_bpb"] is not None and results[base]["readout_alone_bpb"] is not None:
            a_delta = f"{r['readout_alone_bpb'] - results[base]['readout_alone_bpb']:+.4f}"
        md.append(f"| `{name}` | {mech} | {state} | {'' if state == 'base' else f'`{base}`'} | {r['valid_bpb']:.5f} "
                  f"| {delta} | {alone} | {a_delta} | {r['features']} | {r['fit_kbs']:.1f} | {r['score_kbs']:.1f} "
                  f"| {_verdict(name, r, results)} |")
    configs = "; ".join(f"`{n}` = `{ROWS[n][3]}` {json.dumps(ROWS[n][4])}" for n in ROWS if n in results)
    md += ["", _conclusion(results), "", f"Configurations: {configs}."]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--train-bytes", type=int, default=1 << 60, help="use only the first N training bytes")
    ap.add_argument("--valid-bytes", type=int, default=1 << 60, help="score only the first M held-out bytes")
    ap.add_argument("--rows", help=f"comma-separated subset of: {', '.join(ROWS)}")
    ap.add_argument("--results", help="JSON file keeping measured rows (read, then updated after each row)")
    ap.add_argument("--lock", help="lock file held around each row's measurement")
    ap.add_argument("--report-only", action="store_true", help="write the section from --results only")
    args = ap.parse_args()
    results: dict = {}
    if args.results and Path(args.results).exists():
        results = json.loads(Path(args.results).read_text())
    if not args.report_only:
        if not (args.train and args.valid):
            from decepticons.data import shakespeare

            paths = shakespeare()
            args.train, args.valid = args.train or str(paths["train"]), args.valid or str(paths["valid"])
        names = args.rows.split(",") if args.rows else list(ROWS)
        unknown = [n for n in names if n not in ROWS]
        if unknown:
            raise SystemExit(f"unknown rows {unknown}; rows: {', '.join(ROWS)}")
        for name in names:
            results[name] = measure(name, args)
            print(name, results[name], file=sys.stderr, flush=True)
            if args.results:
                Path(args.results).write_text(json.dumps(results, indent=1))
    if not results:
        raise SystemExit("no rows measured")
    md = report(results, args)
    write_section("ablations", md)
    print(md)


if __name__ == "__main__":
    main()

"""``decepticons bench`` into docs/benchmarks.md: one command, one commit, command, machine and corpus stated.

    python benchmarks/bench_suite.py            # decepticons bench --quick (demo corpus), section bench-quick
    python benchmarks/bench_suite.py --full     # decepticons bench --corpus shakespeare, section bench-full

Runs the command line in-process, writes its Markdown table as the section and its plot into docs/figures.
Run it under `a lock file` so the timings are not shared with another benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, command_line, git_rev, machine, write_section  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the full bench on the Shakespeare split")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    from decepticons.cli import main as cli

    name = "bench-full" if args.full else "bench-quick"
    bench_args = ["--corpus", "shakespeare"] if args.full else ["--quick"]
    figure = ROOT / "docs" / "figures" / f"{name.replace('-', '_')}.png"
    with tempfile.TemporaryDirectory() as tmp:
        out_json, out_md = Path(tmp) / "bench.json", Path(tmp) / "bench.md"
        code = cli(["bench", *bench_args, "--json", str(out_json), "--markdown", str(out_md),
                    "--plot", str(figure)])
        if code:
            raise SystemExit(code)
        report = json.loads(out_json.read_text())["bench"]
        if args.full and not args.no_write:  # the README's leaderboard is written from it (regenerate.py)
            (ROOT / "docs" / "figures" / "bench_full.json").write_text(out_json.read_text())
        table = out_md.read_text()
    lines = [
        f"## decepticons bench {' '.join(bench_args)}",
        "",
        f"Command: `decepticons bench {' '.join(bench_args)}` (written by `{command_line()}`). "
        f"Machine: {machine()}. Commit {git_rev()}. Corpus: {report['source']} (train {report['train_bytes']:,} "
        f"bytes, valid {report['valid_bytes']:,} bytes: every figure is on the whole valid split).",
        "",
        "Static: the model frozen after fitting on train; adaptive: scored prequentially, learning from each "
        "byte after coding it (what a compressor does); compressed file: the size of a real file written by "
        "`decepticons.coding.compress` with the adaptive model (46-byte header included)"
        + (f"; torch models: tiny variants, {report['steps']} optimizer steps" if report["quick"] else "") + ".",
        "",
        table.rstrip(),
        "",
        f"![bits/byte vs model bytes](figures/{figure.name})" if figure.exists() else "",
    ]
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section(name, md)


if __name__ == "__main__":
    main()

"""Scan benchmark (section ``scan`` of docs/benchmarks.md).

Measures, on this machine's CPU:

* forward + backward tokens/s of the linear-recurrence scans (``reference``, ``chunked``, ``compiled``) at
  T = 1k, 4k, 16k with the number of tokens per call held fixed (``B = tokens / T``), input-dependent gates;
* the same for a causal-bank *layer* (``Linear(d, 2N)`` -> gates and drive -> scan -> ``Linear(N, d)``) and a
  causal softmax-attention layer of the same width (``Linear(d, 3d)`` -> 4-head causal SDPA ->
  ``Linear(d, d)``), to show where the bank overtakes attention;
* forward + backward tokens/s of the default causal-bank model at the training shapes (32 x 256, 16 x 512);
* generation speed of the streaming step (``predictor.generate``) for the default model.

Run it under the CPU lock::

    python benchmarks/bench_scan.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import ROOT, command_line, git_rev, machine, write_section  # noqa: E402

FIGURE = ROOT / "docs" / "figures" / "scan.png"


def timed(fn, reps: int) -> float:
    """Best wall time of ``reps`` calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def scan_rate(method: str, T: int, tokens: int, N: int, reps: int) -> float:
    import torch

    from decepticons.causal_bank import scans

    B = max(1, tokens // T)
    gen = torch.Generator().manual_seed(0)
    a = (torch.rand(B, T, N, generator=gen) * 0.98 + 0.01).requires_grad_()
    b = torch.randn(B, T, N, generator=gen, requires_grad=True)
    fn = {"reference": scans.scan_reference, "chunked": scans.scan_chunked, "compiled": scans.scan_compiled}[method]

    def run():
        a.grad = b.grad = None
        fn(a, b).sum().backward()

    return B * T / timed(run, reps)


def layer_rate(kind: str, T: int, tokens: int, d: int, reps: int) -> float:
    import torch
    import torch.nn.functional as F

    from decepticons.causal_bank.scans import linear_scan

    B = max(1, tokens // T)
    torch.manual_seed(0)
    x = torch.randn(B, T, d)
    if kind == "bank":
        inp, out = torch.nn.Linear(d, 2 * d), torch.nn.Linear(d, d)

        def fwd():
            g, u = inp(x).chunk(2, dim=-1)
            a = torch.sigmoid(g + 2.0)
            return out(linear_scan(a, (1 - a) * u))
    else:
        qkv, out = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
        heads = 4

        def fwd():
            q, k, v = (t.reshape(B, T, heads, d // heads).transpose(1, 2) for t in qkv(x).chunk(3, dim=-1))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return out(y.transpose(1, 2).reshape(B, T, d))

    params = list(inp.parameters() if kind == "bank" else qkv.parameters()) + list(out.parameters())

    def run():
        for p in params:
            p.grad = None
        fwd().square().mean().backward()

    return B * T / timed(run, reps)


def model_rate(B: int, T: int, reps: int) -> tuple[float, int]:
    import torch

    from decepticons.causal_bank.predictor import CausalBankPredictor

    p = CausalBankPredictor()
    m = p.module.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    x = torch.randint(0, 256, (B, T + 1), generator=torch.Generator().manual_seed(0))

    def run():
        loss = torch.nn.functional.cross_entropy(m(x[:, :-1]).reshape(-1, 256), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return B * T / timed(run, reps), p.num_parameters()


def stream_rate(steps: int) -> float:
    from decepticons.causal_bank.predictor import CausalBankPredictor

    p = CausalBankPredictor()
    p.generate(b"warm", steps=16, seed=0)
    t0 = time.perf_counter()
    p.generate(b"", steps=steps, seed=0)
    return steps / (time.perf_counter() - t0)


def plot(lengths: list[int], rows: dict[str, list[float]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in rows.items():
        ax.plot(lengths, ys, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("forward+backward tokens/s")
    ax.set_title("linear scans vs causal attention (CPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", default="1024,4096,16384", help="comma-separated sequence lengths")
    ap.add_argument("--tokens", type=int, default=16384, help="tokens per call (batch = tokens / T)")
    ap.add_argument("--width", type=int, default=256, help="channels N of the scan / width d of the layers")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--stream-steps", type=int, default=2000)
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)

    import torch

    from decepticons.causal_bank.scans import numba_available

    lengths = [int(v) for v in args.lengths.split(",")]
    methods = ["reference", "chunked"] + (["compiled"] if numba_available() else [])
    scan_rows: dict[str, list[float]] = {m: [] for m in methods}
    layer_rows: dict[str, list[float]] = {"bank layer": [], "attention layer": []}
    for T in lengths:
        for m in methods:
            reps = 1 if m == "reference" else args.reps
            scan_rows[m].append(scan_rate(m, T, args.tokens, args.width, reps))
            print(f"scan {m:9s} T={T:6d} {scan_rows[m][-1]:12.0f} tok/s", flush=True)
        for kind, key in (("bank", "bank layer"), ("attention", "attention layer")):
            layer_rows[key].append(layer_rate(kind, T, args.tokens, args.width, args.reps if T < 8192 else 1))
            print(f"{key:15s} T={T:6d} {layer_rows[key][-1]:12.0f} tok/s", flush=True)
    model_rates = {}
    for B, T in ((32, 256), (16, 512)):
        model_rates[(B, T)] = model_rate(B, T, args.reps)
        print(f"default model {B}x{T}: {model_rates[(B, T)][0]:.0f} tok/s", flush=True)
    gen = stream_rate(args.stream_steps)
    print(f"stream: {gen:.0f} bytes/s", flush=True)

    fast = "compiled" if "compiled" in scan_rows else "chunked"
    growth = {m: v[0] / v[-1] for m, v in scan_rows.items()}
    plot(lengths, {**{f"scan {m}": v for m, v in scan_rows.items()}, **layer_rows})
    head = "| | " + " | ".join(f"T = {T}" for T in lengths) + " | cost/token T_max vs T_min |"
    sep = "|---" * (len(lengths) + 2) + "|"
    lines = [
        "## Linear scans and streaming", "",
        f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads; commit {git_rev()}.",
        f"Command: `{command_line()}`", "",
        f"Forward + backward tokens/s, {args.tokens} tokens per call (batch = {args.tokens} / T), "
        f"N = d = {args.width} channels, input-dependent float32 gates in (0.01, 0.99):", "",
        head, sep,
    ]
    for m, v in scan_rows.items():
        lines.append(f"| scan `{m}` | " + " | ".join(f"{x:,.0f}" for x in v) + f" | {growth[m]:.2f}x |")
    for k, v in layer_rows.items():
        lines.append(f"| {k} | " + " | ".join(f"{x:,.0f}" for x in v) + f" | {v[0] / v[-1]:.2f}x |")
    over = [T for T, b, a in zip(lengths, layer_rows["bank layer"], layer_rows["attention layer"], strict=True)
            if b > a]
    lines += [
        "",
        f"The fast path (`{fast}`, what `linear_scan` picks on this CPU) costs {growth[fast]:.2f}x as much per token "
        f"at T = {lengths[-1]} as at T = {lengths[0]} (target <= 1.5x). "
        + (f"The bank layer is faster than the attention layer of the same width from T = {over[0]} on."
           if over else "The attention layer stays faster than the bank layer over these lengths."),
        "",
        "Default causal-bank model (`CausalBankConfig()`), one AdamW step, forward + backward:", "",
        "| batch x seq | tokens/s | parameters |", "|---|---|---|",
        *[f"| {B} x {T} | {r:,.0f} | {n:,} |" for (B, T), (r, n) in model_rates.items()],
        "",
        f"Streaming generation with the one-byte step (default model, {args.stream_steps} bytes, "
        f"`predictor.generate`): **{gen:,.0f} bytes/s** (target >= 2,000).",
        "",
        "![scan throughput](figures/scan.png)",
    ]
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("scan", md)


if __name__ == "__main__":
    main()

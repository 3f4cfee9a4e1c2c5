"""Benchmark of the ``mythos`` model (section ``mythos`` of docs/experiments.md).

Measures: latent KV-cache bytes per token per layer against standard multi-head attention of the same
width; generation of 512 bytes with and without the latent cache; a byte-level model trained with the
kernel's trainer on the Shakespeare split for a wall-clock budget, scored on the held-out split at full
depth, with ACT, and at 1, max_loop_depth and 2 x max_loop_depth loops; training throughput (forward +
backward, 2 threads) against open-mythos 0.5.0 at the same configuration (run in a subprocess from a
throwaway install given by ``--open-mythos-path``), and model-FLOPs utilisation against this machine's
measured float32 matrix-multiply peak.

Run it under the shared CPU lock, e.g.::

    python benchmarks/bench_mythos.py --phase train --run-dir /tmp/mythos-run
    python benchmarks/bench_mythos.py --phase report --run-dir /tmp/mythos-run
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, write_section  # noqa: E402

LN2 = math.log(2.0)
THROUGHPUT = dict(batch=8, seq=256, loops=8)
#: the shape of the throughput comparison, the one open-mythos is built at below (pinned here, so the pair
#: stays like for like whatever the byte defaults are)
PEER_SHAPE: dict = dict(d_model=256, num_heads=4, num_layers=1, d_kv_latent=40, rope_dim=16, qk_nope_dim=48,
                        num_rooms=4, experts_per_room=2, top_k_experts=2, num_shared_experts=0, expert_dim=128,
                        ffn_dim=256, prelude_layers=1, coda_layers=1, lora_r=8, act_label_rows=1)
#: ponder-cost calibration: held-in bytes from the end of the training split, and the largest relative ACT
#: gap allowed there (below the 1% target, leaving room for the difference between splits)
CALIBRATION_BYTES, CALIBRATION_GAP = 131072, 0.0075


def load_split(args) -> tuple[np.ndarray, np.ndarray]:
    from decepticons.data import read_corpus, shakespeare

    if args.train and args.valid:
        tr, va = args.train, args.valid
    else:
        sp = shakespeare()
        tr, va = sp["train"], sp["valid"]
    return np.asarray(read_corpus(tr)), np.asarray(read_corpus(va))


# ---------------------------------------------------------------------------------------------- peak
def matmul_peak(threads: int = 2, n: int = 1024, reps: int = 20) -> float:
    """Best measured float32 GEMM rate (FLOP/s) with ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t))
    return best


# ---------------------------------------------------------------------------------------------- throughput
def count_cpu_fused_attention() -> None:
    """torch's flop counter knows the CUDA fused attention kernels but not the CPU one: count it like the
    others (full ``T x T`` scores, as open-mythos's explicit attention is counted)."""
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    for op, formula in ((aten._scaled_dot_product_flash_attention_for_cpu, fc.sdpa_flop),
                        (aten._scaled_dot_product_flash_attention_for_cpu_backward, fc.sdpa_backward_flop)):
        if op not in fc.flop_registry:
            fc.register_flop_formula(op, get_raw=True)(formula)


def ours_throughput(steps: int = 6) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    count_cpu_fused_attention()

    from plato_mythos.predictor import MythosPredictor

    torch.set_num_threads(2)
    # every step runs all loops with gradient through all of them, as open-mythos does
    p = MythosPredictor(curriculum=False, max_loop_depth=THROUGHPUT["loops"], bptt_depth=THROUGHPUT["loops"],
                        **PEER_SHAPE)
    m = p.module
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (THROUGHPUT["batch"], THROUGHPUT["seq"] + 1), generator=g)

    def step():
        lg = m(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(lg.reshape(-1, 256), x[:, 1:].reshape(-1)) + m.extra_loss()
        loss.backward()

    step()
    untouched = [n for n, q in m.named_parameters() if q.grad is None or float(q.grad.abs().sum()) == 0]
    opt.step()
    m.after_optimizer_step()
    opt.zero_grad()
    with FlopCounterMode(display=False) as fc:
        step()
    flops = fc.get_total_flops()
    opt.zero_grad()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        opt.step()
        m.after_optimizer_step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    dt = float(np.median(times))
    return {"tokens_per_s": THROUGHPUT["batch"] * THROUGHPUT["seq"] / dt, "flops_per_step": flops,
            "seconds_per_step": dt, "step_seconds": times, "loops_run": m.last_loops,
            "parameters": sum(q.numel() for q in m.parameters()), "untrained_parameters": untouched}


OPEN_MYTHOS_SCRIPT = r"""
import json, sys, time, torch
import numpy as np
from torch.utils.flop_counter import FlopCounterMode
from open_mythos.main import MythosConfig, OpenMythos
torch.set_num_threads(2)
torch.manual_seed(0)
B, T, L = {batch}, {seq}, {loops}
cfg = MythosConfig(vocab_size=256, dim=256, n_heads=4, n_kv_heads=4, max_seq_len=T, max_loop_iters=L,
                   prelude_layers=1, coda_layers=1, attn_type="mla", kv_lora_rank=40, q_lora_rank=128,
                   qk_rope_head_dim=16, qk_nope_head_dim=64, v_head_dim=64, n_experts=8, n_shared_experts=1,
                   n_experts_per_tok=2, expert_dim=256, act_threshold=L + 1.0, lora_rank=8)
# ACT off: the cumulative halting probability stays <= L < act_threshold, so no position halts and the
# loop never exits early (a threshold of 2.0 still halts every position after about 4 loops at init)
m = OpenMythos(cfg)
m.train()
calls = [0]
block_forward = m.recurrent.block.forward
def counted(*a, **k):
    calls[0] += 1
    return block_forward(*a, **k)
m.recurrent.block.forward = counted
opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
x = torch.randint(0, 256, (B, T + 1))
def step():
    lg = m(x[:, :-1], n_loops=L)
    loss = torch.nn.functional.cross_entropy(lg.reshape(-1, 256), x[:, 1:].reshape(-1))
    loss.backward()
step(); opt.step(); opt.zero_grad()
with FlopCounterMode(display=False) as fc:
    step()
flops = fc.get_total_flops(); opt.zero_grad()
times = []
for _ in range({steps}):
    calls[0] = 0
    t = time.perf_counter(); step(); opt.step(); opt.zero_grad(); times.append(time.perf_counter() - t)
dt = float(np.median(times))
print(json.dumps({{"tokens_per_s": B * T / dt, "flops_per_step": flops, "seconds_per_step": dt,
                  "step_seconds": times, "loops_run": calls[0],
                  "parameters": sum(q.numel() for q in m.parameters())}}))
"""


def open_mythos_throughput(path: str, steps: int = 6) -> dict | None:
    if not path or not Path(path).exists():
        return None
    import tempfile

    code = OPEN_MYTHOS_SCRIPT.format(steps=steps, **THROUGHPUT)
    with tempfile.TemporaryDirectory() as stub:
        # the package imports a tokenizer from `transformers` at import time; the model needs none of it
        (Path(stub) / "transformers").mkdir()
        (Path(stub) / "transformers" / "__init__.py").write_text("class AutoTokenizer:\n    pass\n")
        env = {"PYTHONPATH": f"{path}:{stub}", "OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def paired_throughput(open_mythos_path: str, rounds: int = 3, steps: int = 6) -> tuple[dict, dict | None]:
    """Both models measured in alternating rounds (ours, theirs, ours, ...) so that drift in this host's
    speed hits both alike; each side's figure is the median over all its timed steps."""
    ours_runs, their_runs = [], []
    for _ in range(rounds):
        ours_runs.append(ours_throughput(steps))
        t = open_mythos_throughput(open_mythos_path, steps)
        if t is not None:
            their_runs.append(t)

    def pooled(runs: list[dict]) -> dict:
        out = dict(runs[-1])
        times = [x for r in runs for x in r["step_seconds"]]
        out["seconds_per_step"] = dt = float(np.median(times))
        out["tokens_per_s"] = THROUGHPUT["batch"] * THROUGHPUT["seq"] / dt
        out["round_tokens_per_s"] = [r["tokens_per_s"] for r in runs]
        return out

    return pooled(ours_runs), (pooled(their_runs) if their_runs else None)


# ---------------------------------------------------------------------------------------------- cache, generation
def cache_figures() -> dict:
    from plato_mythos.predictor import MythosPredictor

    p = MythosPredictor()
    c = p.config
    mla = (c.d_kv_latent + c.rope_dim) * 4
    mha = 2 * c.d_model * 4
    cache = p.module.new_cache(1, 8)
    p.module.eval()
    p.module.step(torch.zeros(1, 8, dtype=torch.long), cache)
    n_slots = len(cache.slots())
    return {"mla_bytes": mla, "mha_bytes": mha, "ratio": mla / mha, "d_model": c.d_model,
            "measured_per_token": cache.nbytes() / cache.length, "slots": n_slots}


def generation_speed(n_bytes: int = 512, reps: int = 1) -> dict:
    from plato_mythos.predictor import MythosPredictor

    p = MythosPredictor(max_seq_len=n_bytes)
    m = p.module.eval()
    prompt = torch.tensor([[ord("T")]])
    out, seqs = {}, {}
    # one decoding step is many small kernels: one thread is fastest for it (and on a shared machine, much
    # faster); the recomputation is timed with one and with two threads and the faster is kept
    for use_cache, threads in ((True, 1), (False, 1), (False, 2)):
        torch.set_num_threads(threads)
        t = time.perf_counter()
        for _ in range(reps):
            seq = m.generate(prompt, max_new_tokens=n_bytes - 1, temperature=0, use_cache=use_cache, act=False)
        key = f"{'cached' if use_cache else 'uncached'}_{threads}t"
        out[key] = (time.perf_counter() - t) / reps
        seqs[key] = seq
    torch.set_num_threads(2)
    out["cached"] = out["cached_1t"]
    out["uncached"] = min(out["uncached_1t"], out["uncached_2t"])
    out["same_output"] = all(torch.equal(seqs["cached_1t"], s) for s in seqs.values())
    out["speedup"] = out["uncached"] / out["cached"]
    return out


# ---------------------------------------------------------------------------------------------- training
def train_phase(args) -> None:
    from decepticons.training import TrainConfig, train
    from plato_mythos.predictor import MythosPredictor

    torch.set_num_threads(2)
    tr, va = load_split(args)
    p = MythosPredictor(seed=0)
    budget = float(args.seconds)
    t0 = time.perf_counter()

    def progress(step, rec):  # the curriculum follows the wall-clock budget
        p.module.set_training_progress((time.perf_counter() - t0) / budget)

    cfg = TrainConfig(batch_size=args.batch, seq_len=256, lr=args.lr, budget_seconds=budget, eval_every=200,
                      eval_bytes=32768, checkpoint_seconds=None, seed=0, log_every=20)
    res = train(p, tr, va, cfg, run_dir=args.run_dir, callback=progress)
    run = Path(args.run_dir)
    p.save(run / "mythos.safetensors")
    (run / "train_result.json").write_text(json.dumps({k: v for k, v in res.to_dict().items() if k != "curve"},
                                                      default=str, indent=1))
    print(res)


def score_variants(args) -> dict:
    from plato_mythos.predictor import MythosPredictor

    torch.set_num_threads(2)
    tr, va = load_split(args)
    if args.valid_bytes:
        va = va[:args.valid_bytes]
    p = MythosPredictor.load(Path(args.run_dir) / "mythos.safetensors")
    L = p.config.max_loop_depth
    out = {"valid_bytes": len(va)}
    # the ponder cost is chosen on held-in bytes (the tail of the training split), never on valid
    cal = tr[-CALIBRATION_BYTES:]
    out["calibration"] = {"bytes": len(cal), "trained_cost": p.config.ponder_cost,
                          **p.calibrate_halting(cal, max_relative_gap=CALIBRATION_GAP)}

    def bpb(loops, act, trace=False):
        p.eval_loops, p.eval_act = loops, act
        p.depth_trace = [] if trace else None
        t = time.perf_counter()
        lp = p.target_log_probs(va, progress=False)
        dt = time.perf_counter() - t
        depth = np.concatenate(p.depth_trace) if trace else None
        p.depth_trace = None
        return -lp / LN2, depth, dt

    bits_full, _, dt = bpb(L, False)
    out["full"] = float(bits_full.mean())
    out["score_seconds"] = dt
    bits_act, depth, _ = bpb(L, True, trace=True)
    out["act"] = float(bits_act.mean())
    out["act_mean_depth"] = float(depth.mean())
    easy = np.argsort(bits_full, kind="stable")[:len(bits_full) // 4]
    out["act_easy_depth"] = float(depth[easy].mean())
    hard = np.argsort(bits_full, kind="stable")[-(len(bits_full) // 4):]
    out["act_hard_depth"] = float(depth[hard].mean())
    for n in (1, 2 * L):
        out[f"loops_{n}"] = float(bpb(n, False)[0].mean())
    out[f"loops_{L}"] = out["full"]
    out["max_loop_depth"] = L
    return out


def calibration_line(scores: dict) -> str:
    cal = scores.get("calibration")
    if not cal:
        return "- ponder cost: the trained model's own (no calibration recorded)"
    rows = ", ".join(f"{r['cost']:g} -> {100 * r['gap']:+.2f}% at {r['mean_depth']:.2f} loops" for r in cal["table"])
    chosen = f"**{cal['chosen']:g}**" if cal["chosen"] is not None else "none qualified"
    return (f"- ponder cost calibrated on held-in bytes (the last {cal['bytes']:,} of the training split, full depth "
            f"{cal['full']:.4f} bpb): the largest cost whose ACT gap there is <= {100 * CALIBRATION_GAP:.2f}%: "
            f"{chosen} (tried: {rows}; trained with {cal['trained_cost']:g})")


def baseline_table(mythos_bpb: float, tr: dict) -> list[str]:
    """The mythos figure beside the causal bank and the transformer baseline of the ``training`` section
    (same trainer, same 10-minute budget, same held-out split; from docs/figures/training_results.json)."""
    path = Path(__file__).resolve().parent.parent / "docs" / "figures" / "training_results.json"
    if not path.exists():
        return ["- causal bank / transformer baselines: not found (run benchmarks/bench_training.py)"]
    res = json.loads(path.read_text())
    rows = ["", "| model (10-minute budget, kernel trainer) | parameters | steps | held-out bits/byte |",
            "|---|---:|---:|---:|",
            f"| mythos (this run) | {tr.get('parameters')} | {tr.get('steps')} | {mythos_bpb:.4f} |"]
    for key, r in res.items():
        if key.startswith("final:"):
            rows.append(f"| {key[len('final:'):]} (section `training`) | {r.get('parameters')} | {r.get('steps')} | "
                        f"{r['heldout_bpb']:.4f} |")
    return rows + [""]


def report_phase(args) -> None:
    from plato_mythos.predictor import BYTE_DEFAULTS

    run = Path(args.run_dir)
    peak = matmul_peak()
    ours, theirs = paired_throughput(args.open_mythos_path)
    cache = cache_figures()
    gen = generation_speed()
    scores = score_variants(args)
    meta = {"machine": machine(), "torch": torch.__version__, "commit": git_rev(), "command": command_line(),
            "byte_defaults": BYTE_DEFAULTS, "throughput_shape": PEER_SHAPE}
    (run / "report.json").write_text(json.dumps({"cache": cache, "generation": gen, "scores": scores,
                                                 "ours": ours, "open_mythos": theirs, "peak": peak, "meta": meta},
                                                default=str, indent=1))
    markdown_phase(args)


def markdown_phase(args) -> None:
    """Write the section from the run folder's ``report.json`` and ``train_result.json`` (no measuring)."""
    run = Path(args.run_dir)
    rep = json.loads((run / "report.json").read_text())
    cache, gen, scores, ours, theirs, peak, meta = (rep[k] for k in ("cache", "generation", "scores", "ours",
                                                                    "open_mythos", "peak", "meta"))
    SHAPE = meta.get("throughput_shape", meta["byte_defaults"])
    tr = json.loads((run / "train_result.json").read_text())
    L = scores["max_loop_depth"]
    fmt = lambda x: f"{x:.4f}"  # noqa: E731
    lines = [
        "## mythos (plato_mythos recurrent-depth transformer)", "",
        f"Machine: {meta['machine']}; torch {meta['torch']}; 2 threads; commit {meta['commit']}.",
        f"Command: `{meta['command']}` (after `--phase train --seconds {args.seconds}`).", "",
        "### Latent KV cache",
        f"- bytes per token per attention layer: {cache['mla_bytes']} "
        f"(latent {cache['mla_bytes'] // 4 - 16} + rotary key 16 floats) vs {cache['mha_bytes']} for "
        f"standard MHA of width {cache.get('d_model', 256)}: ratio **{cache['ratio']:.3f}** "
        f"(target <= 0.125)",
        f"- whole model (prelude + {L} loops x layers + coda = {cache['slots']} attention applications): "
        f"{cache['measured_per_token']:.0f} bytes per token measured from a live cache",
        "", "### Generation (512 bytes, greedy, untrained byte model, full depth)",
        f"- with latent cache (1 thread): {gen['cached']:.2f} s; recomputing without cache: "
        f"{gen['uncached_1t']:.2f} s (1 thread) / {gen['uncached_2t']:.2f} s (2 threads); "
        f"speed-up vs the faster **{gen['speedup']:.1f}x** (target >= 5x); identical output: {gen['same_output']}",
        "", "### Trained byte-level model (Shakespeare split)",
        f"- trainer: kernel trainer, {tr.get('steps')} steps, {tr.get('tokens')} tokens in {args.seconds} s "
        f"budget, {tr.get('parameters')} parameters, batch {args.batch} x 256, lr {args.lr}",
        f"- held-out bits per byte ({scores['valid_bytes']} bytes, windows of 256 with stride 128): "
        f"**{fmt(scores['full'])}** at full depth ({L} loops)",
        *baseline_table(scores["full"], tr),
        calibration_line(scores),
        f"- ACT on: {fmt(scores['act'])} bpb ({100 * (scores['act'] / scores['full'] - 1):+.2f}% vs full depth, "
        f"target within 1%), mean depth {scores['act_mean_depth']:.2f}; on the most predictable quarter "
        f"{scores['act_easy_depth']:.2f} loops = **{100 * scores['act_easy_depth'] / L:.0f}%** of {L} (target <= 60%)"
        f"; hardest quarter {scores['act_hard_depth']:.2f}",
        f"- loops: 1 -> {fmt(scores['loops_1'])}, {L} -> {fmt(scores[f'loops_{L}'])}, {2 * L} -> "
        f"{fmt(scores[f'loops_{2 * L}'])} bpb (more loops must not be worse than fewer by > 0.5%)",
        "", "### Training throughput (vocab 256, d_model 256, 4 heads, 8 loops every step with backpropagation "
        "through all 8, seq 256, batch 8, fwd+bwd+AdamW)",
        "- both measured in the same run, in alternating rounds (ours, open-mythos, ours, ...); each figure is "
        "the median step time over all its rounds",
        f"- plato_mythos: **{ours['tokens_per_s']:.0f} tokens/s** (rounds: "
        f"{', '.join(f'{x:.0f}' for x in ours['round_tokens_per_s'])}), {ours['loops_run']} loops per step, "
        f"{ours['parameters']} parameters, parameters without gradient: {len(ours['untrained_parameters'])} "
        f"(experts {SHAPE['num_rooms'] * SHAPE['experts_per_room']} x "
        f"{SHAPE['expert_dim']} top-{SHAPE['top_k_experts']} + "
        f"{SHAPE['num_shared_experts']} shared, query/key {SHAPE['qk_nope_dim']} + rotary "
        f"{SHAPE['rope_dim']} per head, prelude/coda feed-forward {SHAPE['ffn_dim']}, halting "
        f"labels from {SHAPE['act_label_rows']} row per step)",
    ]
    if theirs:
        ratio = ours["tokens_per_s"] / theirs["tokens_per_s"]
        lines.append(f"- open-mythos 0.5.0 (same shape, ACT off, MLA q rank 128, experts 8 x 256 top-2 + 1 shared): "
                     f"{theirs['tokens_per_s']:.0f} tokens/s (rounds: "
                     f"{', '.join(f'{x:.0f}' for x in theirs['round_tokens_per_s'])}), {theirs['loops_run']} loops "
                     f"per step, {theirs['parameters']} parameters; ratio **{ratio:.2f}x** (target >= 1.5x)")
    else:
        lines.append("- open-mythos 0.5.0: not measured (pass --open-mythos-path to a `pip install --no-deps "
                     "--target DIR open-mythos==0.5.0`)")
    mfu = ours["flops_per_step"] / ours["seconds_per_step"] / peak
    their_gflop = f"{theirs['flops_per_step'] / 1e9:.1f}" if theirs else "n/a"
    lines.append(f"- model FLOPs per step (torch flop counter, attention counted at full T x T for both): "
                 f"{ours['flops_per_step'] / 1e9:.1f} GFLOP against {their_gflop} for open-mythos; "
                 f"measured float32 matmul peak {peak / 1e9:.1f} GFLOP/s (2 threads); MFU **{100 * mfu:.1f}%**")
    if theirs:
        mfu_o = theirs["flops_per_step"] / theirs["seconds_per_step"] / peak
        lines.append(f"- open-mythos MFU at the same peak: {100 * mfu_o:.1f}%")
    md = "\n".join(lines) + "\n"
    print(md)
    if not args.no_write:
        write_section("mythos", md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", choices=("train", "report", "all", "markdown"), default="all",
                    help="markdown: rewrite the section from the run folder's report.json without measuring")
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--run-dir", default="runs/mythos-bench")
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--valid-bytes", type=int, default=0, help="score only the first N held-out bytes (0: all)")
    ap.add_argument("--open-mythos-path", default="",
                    help="folder holding the open-mythos peer (`pip install --no-deps --target DIR "
                         "open-mythos==0.5.0`): its training step is timed beside ours when given")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    Path(args.run_dir).mkdir(parents=True, exist_ok=True)
    if args.phase in ("train", "all"):
        train_phase(args)
    if args.phase in ("report", "all"):
        report_phase(args)
    if args.phase == "markdown":
        markdown_phase(args)


if __name__ == "__main__":
    main()

"""What the halting head of a trained ``mythos`` model can learn: per-loop realised gains vs divergences.

For held-in bytes (default: the last 128 KB of the training file) it runs every loop of a trained model
without ACT and records, per position and loop ``i``, the realised gain still to come ``l_i - l_L`` (next-byte
loss at loop ``i`` minus at the last loop) and the divergence from the full-depth prediction
``KL(p_L || p_i)`` (the halting head's regression target). It prints, per loop: both means, their means on
the easiest and the hardest quarter of bytes (by full-depth loss), how well the head's own prediction tracks
each (correlation), and the correlation of each with the log relative state change (one of the head's
inputs). Prints a table only.

    python benchmarks/bench_mythos_halting.py --model /tmp/mythos-run/mythos.safetensors --train train.txt
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from plato_mythos.deadband_act import DeadbandACT
from plato_mythos.predictor import MythosPredictor


@torch.no_grad()
def per_loop(p: MythosPredictor, data: np.ndarray, batch: int = 32) -> dict[str, np.ndarray]:
    """``(L, N)`` arrays over the ``N`` scored positions: loss, divergence, head prediction, state change."""
    m = p.module.eval()
    L, W = p.config.max_loop_depth, p.context_length
    n = (len(data) - 1) // W
    x = torch.from_numpy(data[: n * W + 1].astype(np.int64))
    ids = torch.stack([x[i * W:(i + 1) * W] for i in range(n)])
    tgt = torch.stack([x[i * W + 1:(i + 1) * W + 1] for i in range(n)])
    cols: dict[str, list[torch.Tensor]] = {"loss": [], "kl": [], "head": [], "delta": []}
    for b in range(0, n, batch):
        xb, yb = ids[b:b + batch], tgt[b:b + batch]
        chunk = m.new_chunk(xb)
        e = m.prelude(m.embed_tiles(xb), chunk)
        h, lps, rows = e, [], {"loss": [], "head": [], "delta": []}
        for state in m.iterate(e, chunk, L):
            d = DeadbandACT.relative_change(state.h, h)
            h = state.h
            lp = torch.log_softmax(m.logits(m.coda(h, chunk)).float(), dim=-1)
            lps.append(lp)
            rows["loss"].append(-lp.gather(-1, yb[..., None])[..., 0])
            rows["head"].append(m.act.expected_gain(h, d, state.loop))
            rows["delta"].append(d)
        cols["kl"].append(torch.cat((DeadbandACT.remaining_divergence(torch.stack(lps), clip=math.inf),
                                     torch.zeros_like(rows["loss"][0])[None])))
        for k, v in rows.items():
            cols[k].append(torch.stack(v))
    return {k: torch.cat(v, dim=1).reshape(L, -1).numpy() for k, v in cols.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a trained mythos .safetensors file")
    ap.add_argument("--train", required=True, help="the training text; its tail is the held-in sample")
    ap.add_argument("--bytes", type=int, default=131072)
    args = ap.parse_args()
    torch.set_num_threads(2)
    raw = np.fromfile(args.train, dtype=np.uint8)[-args.bytes:]
    p = MythosPredictor.load(args.model)
    r = per_loop(p, raw)
    L = r["loss"].shape[0]
    full = r["loss"][-1]
    order = np.argsort(full, kind="stable")
    easy, hard = order[:len(full) // 4], order[-(len(full) // 4):]
    print(f"{len(full):,} held-in positions; nats; corr = Pearson correlation over positions\n")
    print("| after loop | realised gain l_i - l_L (easy / hard quarter) | KL(p_L || p_i) (easy / hard) "
          "| corr(head, gain) | corr(head, KL) | corr(gain, log change) | corr(log KL, log change) |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for i in range(L - 1):
        gain, kl, head = r["loss"][i] - full, r["kl"][i], r["head"][i]
        logd = np.log(r["delta"][i] + 1e-6)
        print(f"| {i + 1} | {gain.mean():.4f} ({gain[easy].mean():.4f} / {gain[hard].mean():.4f}) "
              f"| {kl.mean():.4f} ({kl[easy].mean():.4f} / {kl[hard].mean():.4f}) "
              f"| {np.corrcoef(head, gain)[0, 1]:.3f} | {np.corrcoef(head, kl)[0, 1]:.3f} "
              f"| {np.corrcoef(gain, logd)[0, 1]:.3f} | {np.corrcoef(np.log(kl + 1e-5), logd)[0, 1]:.3f} |")


if __name__ == "__main__":
    main()

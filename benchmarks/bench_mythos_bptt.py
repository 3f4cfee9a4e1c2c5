"""Training tokens/s of the byte-level mythos model at 8 loops against how many loops backpropagate.

Same shape as the throughput row of ``bench_mythos.py`` (vocab 256, d_model 256, 4 heads, seq 256,
batch 8, forward + backward + AdamW, 2 threads); every step runs all 8 loops, gradient flows through the
last ``bptt_depth`` of them, with and without the halting head's per-loop labels. Prints a table only.

    python benchmarks/bench_mythos_bptt.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from plato_mythos.predictor import MythosPredictor

LOOPS, BATCH, SEQ = 8, 8, 256


def tokens_per_s(steps: int = 4, **overrides) -> float:
    p = MythosPredictor(curriculum=False, max_loop_depth=LOOPS, **overrides)
    m = p.module
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    x = torch.randint(0, 256, (BATCH, SEQ + 1), generator=torch.Generator().manual_seed(0))

    def step() -> None:
        lg = m(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(lg.reshape(-1, 256), x[:, 1:].reshape(-1)) + m.extra_loss()
        loss.backward()
        opt.step()
        m.after_optimizer_step()
        opt.zero_grad()

    step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return BATCH * SEQ / float(np.median(times))


def main() -> None:
    torch.set_num_threads(2)
    print("| backprop through the last | halting labels | tokens/s |\n|---:|---|---:|")
    for bptt, rows in ((8, 1), (8, 0), (6, 1), (4, 1), (2, 1), (2, 0)):
        tps = tokens_per_s(bptt_depth=bptt, act_label_rows=rows)
        print(f"| {bptt} of {LOOPS} loops | {'on' if rows else 'off'} | {tps:,.0f} |", flush=True)


if __name__ == "__main__":
    main()

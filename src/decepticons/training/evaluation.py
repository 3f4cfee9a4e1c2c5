"""Held-out evaluation in bits per byte, scored as :meth:`~decepticons.predictor.CausalPredictor.score` scores.

``bpb = -(1 / T) sum_t log2 p(x_t | x_<t)`` with row 0 conditioned on the start byte only.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import shift_right
from .data import shift_right_torch
from .hooks import StatefulModule, TrainablePredictor

LN2 = math.log(2.0)


def is_stateful(module: torch.nn.Module) -> bool:
    """True when ``module`` carries a state across windows (:class:`~.hooks.StatefulModule`)."""
    return isinstance(module, StatefulModule)


@torch.no_grad()
def evaluate(predictor: TrainablePredictor, data: BytesLike, seq_len: int | None = None, batch_size: int = 16,
             stateful: bool | None = None, amp: bool = False) -> float:
    """Bits per byte of ``predictor`` on ``data``, scored as :meth:`CausalPredictor.score` scores it.

    Position 0 conditions on the start byte only. A stateful module (``forward_with_state`` and
    ``init_state``) runs over chunks of ``seq_len`` bytes carrying its state, which equals one pass over
    all of ``data``; a stateless one scores each chunk as a fresh sequence (chunks batched by
    ``batch_size``).
    """
    x = as_byte_array(data)
    if len(x) == 0:
        raise InputError("cannot evaluate on empty data")
    module = predictor.module
    device = next(iter(module.parameters())).device
    stateful = is_stateful(module) if stateful is None else stateful
    if seq_len is None:
        ctx = predictor.context_length
        seq_len = 4096 if stateful else (ctx or 1024)
    bos = int(predictor.bos_token)
    inp = torch.from_numpy(shift_right(x, bos))
    tgt = torch.from_numpy(np.asarray(x, dtype=np.int64))
    was_training = module.training
    module.eval()
    total = 0.0
    autocast = amp and device.type == "cuda"
    try:
        if stateful:
            state = module.init_state(1)
            for s in range(0, len(x), seq_len):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits, state = module.forward_with_state(inp[None, s:s + seq_len].to(device), state)
                lp = torch.log_softmax(logits[0].double(), dim=-1)
                total -= float(lp.gather(-1, tgt[s:s + seq_len, None].to(device)).sum())
        else:
            starts = list(range(0, len(x), seq_len))
            for i in range(0, len(starts), batch_size):
                group = starts[i:i + batch_size]
                full = [s for s in group if s + seq_len <= len(x)]
                parts = []
                if full:
                    idx = torch.tensor(full)[:, None] + torch.arange(seq_len)[None]
                    parts.append((shift_right_torch(tgt[idx], bos), tgt[idx]))
                for s in group:
                    if s + seq_len > len(x):  # the last, shorter chunk
                        yi = tgt[s:][None]
                        parts.append((shift_right_torch(yi, bos), yi))
                for xi, yi in parts:
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                        logits = module(xi.to(device))
                    lp = torch.log_softmax(logits.double(), dim=-1)
                    total -= float(lp.gather(-1, yi[..., None].to(device)).sum())
    finally:
        module.train(was_training)
    return total / LN2 / len(x)

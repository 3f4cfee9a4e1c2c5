"""Cache views: one prediction record per position over a set of memories.

For every memory (any :class:`~decepticons.predictor.CausalPredictor`) and position t the view keeps the
probability it gave the byte that came, its most likely byte and that byte's probability (confidence),
and the entropy of its distribution. Count memories add what they saw: the longest context order used,
that context's count N and distinct followers u, and the probability at every order. All records come
from the same causal (and, for adaptive memories, prequential) run as ``log_probs``.

Shapes: ``prob``, ``top1``, ``entropy``: ``float64[T]``; ``predicted``: ``int64[T]``; ``order_used``,
``count``, ``distinct``: ``int64[T]`` (count memories only); ``order_probs``: ``float64[T, n_orders + 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..predictor import LN2, CausalPredictor
from .base import CountMemory


@dataclass
class MemoryRecord:
    """Per-position record of one memory over one input."""

    name: str
    prob: np.ndarray
    predicted: np.ndarray
    top1: np.ndarray
    entropy: np.ndarray | None = None
    order_used: np.ndarray | None = None
    count: np.ndarray | None = None
    distinct: np.ndarray | None = None
    order_probs: np.ndarray | None = None

    @property
    def bits_per_byte(self) -> float:
        return float(-np.log2(self.prob).mean()) if len(self.prob) else float("nan")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "bits_per_byte": self.bits_per_byte,
                               "mean_top1": float(self.top1.mean()) if len(self.top1) else None}
        if self.entropy is not None and len(self.entropy):
            out["mean_entropy_bits"] = float(self.entropy.mean())
        if self.order_used is not None and len(self.order_used):
            vals, counts = np.unique(self.order_used, return_counts=True)
            out["order_used"] = {int(v): int(c) for v, c in zip(vals, counts)}
        return out


@dataclass
class CacheView:
    """Records of several memories over the same bytes (``data``)."""

    data: np.ndarray
    records: list[MemoryRecord] = field(default_factory=list)

    def __getitem__(self, name: str) -> MemoryRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    def best_memory(self) -> np.ndarray:
        """``int64[T]``: index of the memory that gave the actual byte the highest probability."""
        return np.argmax(np.stack([r.prob for r in self.records], axis=1), axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": len(self.data), "memories": [r.summary() for r in self.records]}


def build_cache_view(memories: dict[str, CausalPredictor] | list[CausalPredictor],
                     data: BytesLike, chunk_size: int = 1 << 14) -> CacheView:
    """Run every memory over ``data`` and collect its per-position record (bounded memory per chunk)."""
    x = np.asarray(as_byte_array(data))
    items = memories.items() if isinstance(memories, dict) else ((m.name, m) for m in memories)
    view = CacheView(data=x)
    for name, m in items:
        prob = np.empty(len(x))
        pred = np.empty(len(x), dtype=np.int64)
        top1 = np.empty(len(x))
        ent = np.empty(len(x))
        pos = 0
        for block in m.iter_log_probs(x, chunk_size=chunk_size):
            n = len(block)
            p = np.exp(block)
            prob[pos:pos + n] = p[np.arange(n), x[pos:pos + n]]
            pred[pos:pos + n] = np.argmax(block, axis=1)
            top1[pos:pos + n] = p.max(axis=1)
            ent[pos:pos + n] = -(p * block).sum(axis=1) / LN2
            pos += n
        rec = MemoryRecord(name=name, prob=prob, predicted=pred, top1=top1, entropy=ent)
        if isinstance(m, CountMemory):
            facts = m.records(x)
            rec.order_used = facts["order_used"]
            rec.count = facts["count"]
            rec.distinct = facts["distinct"]
            rec.order_probs = facts["order_probs"]
        view.records.append(rec)
    return view

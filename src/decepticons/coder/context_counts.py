"""Exact-context count view: sufficient statistics of which byte followed each context of order 0..K.

Contexts are the ``k`` bytes before a position, hashed to 56 bits (``h_k(t)``, nested: ``h_k`` extends
``h_{k-1}`` by one more byte: ``h_k = xorshift29((h_{k-1} + x_{t-k} + 1) * M)`` with an odd 64-bit ``M``, so
every byte of the context reaches the high 56 bits that identify it); the key of an event is
``(h_k(t) with its low byte replaced by x_t)``, so one sorted ``uint64`` array per order holds every
(context, next byte) pair seen and its count. With 56-bit hashes, collisions among the few million contexts
of a corpus have probability ~1e-4 overall.

Statistics are additive: counts from shards merge by summing equal keys, which is what lets ``fit`` run
shards in worker processes. Each order-(k+1) key also stores its parent order-k key, from which the
Kneser-Ney continuation counts ``N1+(. ctx_k y)`` (number of distinct longer contexts followed by ``y``) are
derived.

The predictive rule (:class:`ContextSmoother`) is interpolated Pitman-Yor / Kneser-Ney smoothing with a
discount ``d_k`` and escape ``b_k`` (the Pitman-Yor concentration; the count memories' PPM-style escape
offset has the same role and name) per order, from order 0 upward on top of a base distribution::

    p_k(y) = (max(c_k(y) - d_k, 0) + (b_k + d_k * u_k) * p_{k-1}(y)) / (n_k + b_k)    if n_k > 0
    p_k(y) = p_{k-1}(y)                                                                     otherwise

with ``c_k`` raw counts at the top order and continuation counts below it, ``n_k = sum_y c_k(y)`` and
``u_k`` the number of distinct ``y`` with ``c_k(y) > 0``. Each ``p_k`` sums to one when ``p_{k-1}`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MUL = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(29)
_LOW = np.uint64(0xFF)
_HIGH = np.uint64(0xFFFFFFFFFFFFFF00)
_M64 = (1 << 64) - 1
#: version of the context hash; model files record it (version 1 lost the order-1 context: refit such files)
HASH_VERSION = 2


def context_hashes(x: np.ndarray, max_order: int, history: np.ndarray | None = None) -> list[np.ndarray]:
    """``[h_0, ..., h_K]``, each ``uint64[T]``: hash of the ``k`` bytes before each position of ``x``.

    ``history`` holds the bytes that came before ``x`` (its last ``max_order`` are used); positions before
    the very start of the text read as a start marker distinct from every byte.
    """
    T = len(x)
    hist = np.zeros(0, np.uint8) if history is None else np.asarray(history, np.uint8)[-max_order:]
    ext = np.concatenate([hist, x]).astype(np.uint64) + np.uint64(1)  # 0 = before the start
    off = len(hist)
    out = [np.zeros(T, np.uint64)]
    h = np.zeros(T, np.uint64)
    for k in range(1, max_order + 1):
        sh = np.zeros(T, np.uint64)
        lo = max(0, k - off)            # positions t < lo have no byte k back
        if lo < T:
            sh[lo:] = ext[off + lo - k: off + T - k]
        h = (h + sh) * _MUL          # multiply after adding: every context byte reaches the high 56 bits
        h ^= h >> _SHIFT
        out.append(h.copy())
    return out


def context_hashes_scalar(recent: list[int], max_order: int, at_start_len: int) -> list[int]:
    """Scalar twin of :func:`context_hashes` for the stream: ``recent`` = last bytes (oldest first),
    ``at_start_len`` = how many bytes have been seen in total (bytes before the start read as 0)."""
    out = [0]
    h = 0
    for k in range(1, max_order + 1):
        sh = recent[-k] + 1 if k <= min(at_start_len, len(recent)) else 0
        h = ((h + sh) * 0x9E3779B97F4A7C15) & _M64
        h ^= h >> 29
        out.append(h)
    return out


def event_keys(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (h & _HIGH) | y.astype(np.uint64)


@dataclass
class CountTable:
    """One order: sorted unique event keys, their counts and (for k >= 1) the parent order-(k-1) key."""

    keys: np.ndarray      # uint64[n] sorted
    counts: np.ndarray    # int64[n]
    parents: np.ndarray   # uint64[n] (zeros for order 0)

    @staticmethod
    def from_events(keys: np.ndarray, parents: np.ndarray) -> CountTable:
        uk, first, cnt = np.unique(keys, return_index=True, return_counts=True)
        return CountTable(uk, cnt.astype(np.int64), parents[first])

    @staticmethod
    def merge(tables: list[CountTable], cap: int | None = None) -> CountTable:
        """Sum counts of equal keys; with ``cap``, keep only the ``cap`` most frequent events (ties broken by
        key, so the result is deterministic). The cap bounds memory whatever the corpus size."""
        if len(tables) == 1:
            out = tables[0]
        else:
            keys = np.concatenate([t.keys for t in tables])
            uk, first, inv = np.unique(keys, return_index=True, return_inverse=True)
            counts = np.bincount(inv, weights=np.concatenate([t.counts for t in tables]).astype(np.float64),
                                 minlength=len(uk)).astype(np.int64)
            out = CountTable(uk, counts, np.concatenate([t.parents for t in tables])[first])
        if cap is not None and len(out.keys) > cap:
            order = np.lexsort((out.keys, -out.counts))[:cap]   # most frequent first, then by key
            keep = np.sort(order)
            out = CountTable(out.keys[keep], out.counts[keep], out.parents[keep])
        return out


class ContextCounts:
    """Count tables for orders ``0..max_order``; ``+`` merges shards."""

    def __init__(self, max_order: int, tables: list[CountTable] | None = None) -> None:
        self.max_order = max_order
        empty = CountTable(np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.uint64))
        self.tables = tables if tables is not None else [empty] * (max_order + 1)

    @staticmethod
    def from_data(x: np.ndarray, max_order: int, history: np.ndarray | None = None) -> ContextCounts:
        hs = context_hashes(x, max_order, history)
        keys = [event_keys(h, x) for h in hs]
        tables = [CountTable.from_events(keys[0], np.zeros(len(x), np.uint64))]
        for k in range(1, max_order + 1):
            tables.append(CountTable.from_events(keys[k], keys[k - 1]))
        return ContextCounts(max_order, tables)

    @staticmethod
    def merge(parts: list[ContextCounts], cap: int | None = None) -> ContextCounts:
        K = parts[0].max_order
        return ContextCounts(K, [CountTable.merge([p.tables[k] for p in parts], cap) for k in range(K + 1)])

    def smoother_tables(self) -> list[SmoothedOrder]:
        """Per-order lookup tables: raw counts at the top order, KN continuation counts below."""
        out = []
        for k in range(self.max_order + 1):
            if k < self.max_order:
                child = self.tables[k + 1]
                keys, cnt = np.unique(child.parents, return_counts=True)
            else:
                keys, cnt = self.tables[k].keys, self.tables[k].counts
            out.append(SmoothedOrder.build(keys, cnt.astype(np.float64)))
        return out


@dataclass
class SmoothedOrder:
    """CSR view of one order: unique contexts, their totals, distinct-follower counts and follower lists."""

    keys: np.ndarray     # uint64[E] sorted event keys
    counts: np.ndarray   # float64[E]
    ctx: np.ndarray      # uint64[C] sorted context hashes (high 56 bits)
    start: np.ndarray    # int64[C] offset of each context's events in keys
    distinct: np.ndarray  # int64[C]
    total: np.ndarray    # float64[C]

    @staticmethod
    def build(keys: np.ndarray, counts: np.ndarray) -> SmoothedOrder:
        c = keys >> np.uint64(8)
        if len(c) == 0:
            z = np.zeros(0, np.int64)
            return SmoothedOrder(keys, counts, c, z, z, np.zeros(0))
        ctx, start, distinct = np.unique(c, return_index=True, return_counts=True)
        total = np.add.reduceat(counts, start)
        return SmoothedOrder(keys, counts, ctx, start.astype(np.int64), distinct.astype(np.int64), total)

    @staticmethod
    def from_tensors(keys: np.ndarray, counts: np.ndarray, name: str) -> SmoothedOrder:
        """:meth:`build` of a saved order, refusing (``ValueError``) keys that are not strictly increasing
        ``uint64`` (lookups binary-search them) or counts that are not finite, non-negative and one per key."""
        keys, counts = np.asarray(keys), np.asarray(counts)
        if keys.ndim != 1 or keys.dtype != np.uint64 or counts.shape != keys.shape or counts.dtype.kind not in "fiu":
            raise ValueError(f"{name}: keys and counts must be two 1-D arrays of the same length "
                             f"(uint64 keys), got {keys.dtype}{keys.shape} and {counts.dtype}{counts.shape}")
        if len(keys) > 1 and not np.all(keys[1:] > keys[:-1]):
            raise ValueError(f"{name}: keys are not strictly increasing")
        c = counts.astype(np.float64)
        if not np.all(np.isfinite(c)) or np.any(c < 0):
            raise ValueError(f"{name}: counts must be finite and >= 0")
        return SmoothedOrder.build(keys, c)

    def context_index(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each context hash in ``ctx`` and whether it was seen."""
        c = h >> np.uint64(8)
        if len(self.ctx) == 0:
            return np.zeros(len(h), np.int64), np.zeros(len(h), bool)
        i = np.minimum(np.searchsorted(self.ctx, c), len(self.ctx) - 1)
        return i, self.ctx[i] == c

    def target_stats(self, h: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, u, c_y)`` per position: context total, distinct followers, count of the actual byte."""
        i, seen = self.context_index(h)
        n = np.where(seen, self.total[i] if len(self.total) else 0.0, 0.0)
        u = np.where(seen, self.distinct[i] if len(self.distinct) else 0, 0)
        if len(self.keys) == 0:
            return n, u, np.zeros(len(h))
        key = event_keys(h, y)
        j = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        cy = np.where(self.keys[j] == key, self.counts[j], 0.0)
        return n, u, cy

    def dense_counts(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, u, counts[T, 256])`` for every position (the full follower distribution)."""
        T = len(h)
        i, seen = self.context_index(h)
        dense = np.zeros((T, 256))
        if len(self.ctx) == 0 or not seen.any():
            return np.zeros(T), np.zeros(T, np.int64), dense
        rows = np.flatnonzero(seen)
        lens = self.distinct[i[rows]]
        starts = self.start[i[rows]]
        rep_rows = np.repeat(rows, lens)
        offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        ev = np.repeat(starts, lens) + offs
        dense[rep_rows, (self.keys[ev] & _LOW).astype(np.int64)] = self.counts[ev]
        n = np.where(seen, self.total[i], 0.0)
        u = np.where(seen, self.distinct[i], 0)
        return n, u, dense


class ContextSmoother:
    """Interpolated Pitman-Yor / Kneser-Ney over orders 0..K (see the module docstring)."""

    def __init__(self, orders: list[SmoothedOrder], discounts: np.ndarray, escapes: np.ndarray) -> None:
        self.orders = orders
        self.discounts = np.asarray(discounts, dtype=np.float64)
        self.escapes = np.asarray(escapes, dtype=np.float64)

    @property
    def max_order(self) -> int:
        return len(self.orders) - 1

    @staticmethod
    def chain_target(stats: list[tuple[np.ndarray, np.ndarray, np.ndarray]], base: np.ndarray,
                     discounts: np.ndarray, escapes: np.ndarray) -> np.ndarray:
        """Probability of the actual byte given per-order ``(n, u, c_y)`` and the base probability."""
        p = base
        for (n, u, cy), d, th in zip(stats, discounts, escapes):
            pk = (np.maximum(cy - d, 0.0) + (th + d * u) * p) / np.maximum(n + th, 1e-300)
            p = np.where(n > 0, pk, p)
        return p

    def target_probs(self, hashes: list[np.ndarray], y: np.ndarray, base: np.ndarray) -> np.ndarray:
        stats = [o.target_stats(h, y) for o, h in zip(self.orders, hashes)]
        return self.chain_target(stats, base, self.discounts, self.escapes)

    def probs(self, hashes: list[np.ndarray], base: np.ndarray) -> np.ndarray:
        """``float64[T, 256]`` full distributions; ``base`` is ``[T, 256]``."""
        p = base
        for o, h, d, th in zip(self.orders, hashes, self.discounts, self.escapes):
            n, u, c = o.dense_counts(h)
            seen = n > 0
            if not seen.any():
                continue
            pk = (np.maximum(c[seen] - d, 0.0) + ((th + d * u[seen]) / 1.0)[:, None] * p[seen]) \
                / (n[seen] + th)[:, None]
            p = p.copy()
            p[seen] = pk
        return p

"""CountTables: the growable arrays behind every count memory (layout in :mod:`.kernels.tables`).

``arrays()`` hands them to the kernels as one :class:`~.kernels.tables.TableArrays`; ``copy()`` gives an
independent working copy (adaptive models score from a copy of the fitted tables and never touch the
original); ``grow()`` doubles whichever part is full.

Persistence (``tensors()`` / ``from_tensors``) stores the content, not the hash table: with ``k`` contexts
and ``n`` follower nodes, ::

    keys  int64[k]    the used keys, strictly increasing (the empty slots are not stored)
    uniq  int32[k]    u(ctx): the length of each context's follower list
    nbyte uint8[n]    the lists' follower bytes, list after list in key order, each list in its own order
    ncnt  int32[n]    their counts
    c0    int64[256]  order-0 counts
    meta  int64[4]    [nodes, contexts, N0, u0]

so a file holds 12 bytes per context and 5 per follower (the in-memory table: 20 per slot, at most 70% of
them used, and 9 per node). Loading rebuilds the pointers (``heads``, ``nnext``), the totals ``N(ctx)``
(the sums of the lists) and the hash table: nothing in a file is an index, so a file cannot describe a
list that loops or two lists sharing nodes. The order is canonical, so a table and the same table loaded
from its file give identical tensors (and fingerprints).
"""

from __future__ import annotations

import numpy as np

from ..jit import get_kernels
from .kernels.tables import (
    LOAD_DEN,
    LOAD_NUM,
    META_CONTEXTS,
    META_N0,
    META_NODES,
    META_U0,
    TABLE_COUNTS,
    TABLE_CYCLE,
    TABLE_FULL,
    TABLE_OK,
    TABLE_ORPHANS,
    TABLE_REPEATED,
    TABLE_TOTALS,
    TABLE_UNREACHABLE,
    TableArrays,
)

_SLOT_FIELDS = ("keys", "heads", "tot", "uniq")
_NODE_FIELDS = ("nbyte", "ncnt", "nnext")
#: storage types (counts are halved long before 2**31; follower bytes fit a uint8)
DTYPES = {"keys": np.int64, "heads": np.int32, "tot": np.int32, "uniq": np.int32, "nbyte": np.uint8,
          "ncnt": np.int32, "nnext": np.int32, "c0": np.int64, "meta": np.int64}


class CountTables:
    """Growable count tables: slot arrays of ``cap`` (a power of 2) contexts, a pool of ``nodes`` followers."""

    def __init__(self, cap: int = 1 << 12, nodes: int = 1 << 14) -> None:
        cap = 1 << max(4, int(cap - 1).bit_length())
        self.keys = np.zeros(cap, dtype=DTYPES["keys"])
        self.heads = np.full(cap, -1, dtype=DTYPES["heads"])
        self.tot = np.zeros(cap, dtype=DTYPES["tot"])
        self.uniq = np.zeros(cap, dtype=DTYPES["uniq"])
        self.nbyte = np.zeros(nodes, dtype=DTYPES["nbyte"])
        self.ncnt = np.zeros(nodes, dtype=DTYPES["ncnt"])
        self.nnext = np.full(nodes, -1, dtype=DTYPES["nnext"])
        self.c0 = np.zeros(256, dtype=np.int64)
        self.meta = np.zeros(4, dtype=np.int64)

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        return int(self.meta[META_NODES])

    @property
    def n_contexts(self) -> int:
        return int(self.meta[META_CONTEXTS])

    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in _SLOT_FIELDS + _NODE_FIELDS)

    def arrays(self) -> TableArrays:
        """The current arrays as the kernels take them (rebuild after :meth:`grow` or :meth:`compact`)."""
        return TableArrays(self.keys, self.heads, self.tot, self.uniq, self.nbyte, self.ncnt, self.nnext, self.c0,
                           self.meta)

    def copy(self, spare: int = 0) -> CountTables:
        """Independent copy with room for about ``spare`` more positions' worth of growth."""
        out = CountTables.__new__(CountTables)
        for f in ("c0", "meta"):
            setattr(out, f, getattr(self, f).copy())
        out.keys, out.heads, out.tot, out.uniq = (getattr(self, f).copy() for f in _SLOT_FIELDS)
        nodes = len(self.nbyte)
        need = self.n_nodes + spare
        if need >= nodes:
            nodes = 1 << int(need).bit_length()
        out.nbyte = np.zeros(nodes, dtype=DTYPES["nbyte"])
        out.ncnt = np.zeros(nodes, dtype=DTYPES["ncnt"])
        out.nnext = np.full(nodes, -1, dtype=DTYPES["nnext"])
        n = self.n_nodes
        out.nbyte[:n] = self.nbyte[:n]
        out.ncnt[:n] = self.ncnt[:n]
        out.nnext[:n] = self.nnext[:n]
        return out

    def grow(self, n_orders: int, use_numba: bool = True) -> None:
        """Double the node pool and/or the slot table (rehashing) so the next position fits."""
        if self.n_nodes + n_orders + 1 >= len(self.nbyte):
            self.compact(use_numba, size=len(self.nbyte) * 2)
        if (self.n_contexts + n_orders) * LOAD_DEN >= len(self.keys) * LOAD_NUM:
            cap = len(self.keys) * 2
            old = self.arrays()
            new = old._replace(keys=np.zeros(cap, dtype=DTYPES["keys"]), heads=np.full(cap, -1, dtype=DTYPES["heads"]),
                               tot=np.zeros(cap, dtype=DTYPES["tot"]), uniq=np.zeros(cap, dtype=DTYPES["uniq"]))
            get_kernels(use_numba).rehash(old, new)
            self.keys, self.heads, self.tot, self.uniq = new.keys, new.heads, new.tot, new.uniq

    def compact(self, use_numba: bool = True, size: int | None = None) -> None:
        """Re-lay the node pool so each context's followers are contiguous (same lists, same order, so
        every prediction is unchanged; lookups touch far fewer cache lines). ``size``: new pool length."""
        m = max(int(size or len(self.nbyte)), self.n_nodes + 1)
        old = self.arrays()
        new = old._replace(nbyte=np.zeros(m, dtype=DTYPES["nbyte"]), ncnt=np.zeros(m, dtype=DTYPES["ncnt"]),
                           nnext=np.full(m, -1, dtype=DTYPES["nnext"]))
        used = get_kernels(use_numba).compact_nodes(old, new)
        if used != self.n_nodes:
            raise RuntimeError(f"count tables are inconsistent: {used} reachable nodes, {self.n_nodes} used")
        self.nbyte, self.ncnt, self.nnext = new.nbyte, new.ncnt, new.nnext

    # ------------------------------------------------------------------ persistence
    def tensors(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The content of the table in the canonical layout of the module docstring. O(slots + nodes)."""
        used = np.flatnonzero(self.keys)
        order = used[np.argsort(self.keys[used], kind="stable")]
        n = self.n_nodes
        # copy the lists contiguously in key order (the compaction kernel over the slots in that order)
        view = self.arrays()._replace(keys=self.keys[order], heads=self.heads[order].copy(),
                                      tot=self.tot[order], uniq=self.uniq[order])
        pool = view._replace(nbyte=np.zeros(n, dtype=DTYPES["nbyte"]), ncnt=np.zeros(n, dtype=DTYPES["ncnt"]),
                             nnext=np.full(n, -1, dtype=DTYPES["nnext"]))
        copied = get_kernels().compact_nodes(view, pool) if n else 0
        if copied != n:
            raise RuntimeError(f"count tables are inconsistent: {copied} reachable nodes, {n} used")
        return {prefix + "keys": view.keys, prefix + "uniq": view.uniq, prefix + "nbyte": pool.nbyte,
                prefix + "ncnt": pool.ncnt, prefix + "c0": self.c0.copy(), prefix + "meta": self.meta.copy()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], prefix: str = "") -> CountTables:
        """Tables from :meth:`tensors`, refusing (``ValueError``) any that breaks the layout or the invariants
        of :mod:`.kernels.tables`: dtypes and sizes, keys strictly increasing and nonzero, list lengths
        summing to the node count, header counts, then :func:`check_tables` on the rebuilt table (counts of
        at least 1, no byte twice in a list). Memory: about twice the arrays (sizes are checked against the
        tensors before anything is allocated); time O(contexts + nodes)."""
        if prefix + "heads" in tensors or prefix + "nnext" in tensors:
            raise ValueError("count tables are in the linked layout of an earlier version (heads / nnext "
                             "tensors); fit the model again to write it in the present layout")
        got = {}
        for f in ("keys", "uniq", "nbyte", "ncnt", "c0", "meta"):
            if prefix + f not in tensors:
                raise ValueError(f"count tables have no tensor {prefix + f}")
            a = np.asarray(tensors[prefix + f])
            if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
                raise ValueError(f"{prefix + f} must be a 1-D integer array, got {a.dtype} of shape {a.shape}")
            got[f] = a
        keys, uniq, c0, meta = got["keys"], got["uniq"], got["c0"], got["meta"]
        if len(c0) != 256 or len(meta) != 4:
            raise ValueError("count table header arrays have wrong sizes")
        k, n = len(keys), int(meta[META_NODES])
        if len(uniq) != k or int(meta[META_CONTEXTS]) != k:
            raise ValueError(f"count tables are inconsistent: {k} keys, {len(uniq)} list lengths, "
                             f"{int(meta[META_CONTEXTS])} contexts in the header")
        for f in ("nbyte", "ncnt"):
            if len(got[f]) != n:
                raise ValueError(f"{prefix + f} has {got[f].dtype} of shape {got[f].shape}, expected {n} integers")
        if n >= 2**31 - 1 or k >= 2**31 - 1:
            raise ValueError(f"count tables are too large ({k:,} contexts, {n:,} nodes)")
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        uniq = np.ascontiguousarray(uniq, dtype=np.int64)
        if k and (keys[0] <= 0 or np.any(np.diff(keys) <= 0)):
            raise ValueError("count tables hold a context twice, or keys that are not positive and increasing")
        # each length at most n (and n, k below 2**31), so the sum below cannot overflow
        if np.any(uniq < 0) or np.any(uniq > n) or int(uniq.sum()) != n:
            raise ValueError(f"count tables are inconsistent: list lengths sum to {int(uniq.sum()):,}, "
                             f"the header says {n:,} nodes")
        c0 = np.ascontiguousarray(c0, dtype=np.int64)
        if np.any(c0 < 0) or int(meta[META_N0]) != int(c0.sum()) or int(meta[META_U0]) != int((c0 > 0).sum()):
            raise ValueError("count tables are inconsistent (the order-0 header counts are wrong)")
        nbyte = np.asarray(got["nbyte"])
        if n and (int(nbyte.min()) < 0 or int(nbyte.max()) > 255):
            raise ValueError("count tables are malformed: a follower byte is outside 0..255")
        ncnt = np.asarray(got["ncnt"])
        if n and int(ncnt.min()) < 1:
            raise ValueError(f"count tables are malformed: {_TABLE_PROBLEMS[TABLE_COUNTS]}")
        if n and int(ncnt.max()) >= 2**31:
            raise ValueError("count tables are malformed: a follower count does not fit 31 bits")
        ncnt = np.ascontiguousarray(ncnt, dtype=np.int64)
        ends = np.cumsum(uniq)
        starts = ends - uniq
        sums = np.concatenate([[0], np.cumsum(ncnt)])
        tot = sums[ends] - sums[starts]
        if k and int(tot.max()) >= 2**31:
            raise ValueError("count tables are malformed: a context's total does not fit 31 bits")
        # the pointers and the hash table, rebuilt in empty tables of the sizes the contents need
        cap = 16
        while k * LOAD_DEN >= cap * LOAD_NUM:
            cap *= 2
        out = cls(cap=cap, nodes=1 << max(4, (n + 1).bit_length()))
        out.c0 = c0.copy()
        out.meta = np.ascontiguousarray(meta, dtype=np.int64).copy()
        out.nbyte[:n] = nbyte
        out.ncnt[:n] = ncnt
        out.nnext[:n] = np.arange(1, n + 1)
        out.nnext[ends[uniq > 0] - 1] = -1
        heads = np.where(uniq > 0, starts, -1)
        listed = out.arrays()._replace(keys=keys, heads=heads.astype(DTYPES["heads"]),
                                       tot=tot.astype(DTYPES["tot"]), uniq=uniq.astype(DTYPES["uniq"]))
        get_kernels().rehash(listed, out.arrays())
        code = get_kernels().check_tables(out.arrays(), np.zeros(n, dtype=np.uint8), np.zeros(256, dtype=np.int64))
        if code != TABLE_OK:
            raise ValueError(f"count tables are malformed: {_TABLE_PROBLEMS.get(code, code)}")
        return out


_TABLE_PROBLEMS = {
    TABLE_FULL: "the hash table has no empty slot",
    TABLE_UNREACHABLE: "a context is not where probing from its hash finds it",
    TABLE_CYCLE: "a follower list loops or two lists share a node",
    TABLE_COUNTS: "a follower count is below 1",
    TABLE_REPEATED: "a follower list holds a byte twice",
    TABLE_TOTALS: "a context's total or distinct count does not match its follower list",
    TABLE_ORPHANS: "nodes belong to no follower list",
}

"""CountTables: the growable arrays behind every count memory (layout in :mod:`.kernels.tables`).

``arrays()`` hands them to the kernels as one :class:`~.kernels.tables.TableArrays`; ``copy()`` gives an
independent working copy (adaptive models score from a copy of the fitted tables and never touch the
original); ``grow()`` doubles whichever part is full; ``tensors()`` / ``from_tensors`` persist only the
used part.
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
        n = self.n_nodes
        out = {prefix + f: getattr(self, f) for f in _SLOT_FIELDS + ("c0", "meta")}
        for f in _NODE_FIELDS:
            out[prefix + f] = getattr(self, f)[:n]
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], prefix: str = "") -> CountTables:
        """Tables from :meth:`tensors`, refusing (``ValueError``) any that breaks the invariants of
        :mod:`.kernels.tables`: sizes, index ranges, header counts, load factor, then :func:`check_tables`
        (reachable keys, follower lists that end and cover the pool exactly once, totals). Memory: the arrays
        themselves (sizes are checked against the tensors before anything is allocated); time O(slots + nodes)."""
        out = cls.__new__(cls)
        for f in _SLOT_FIELDS + ("c0", "meta"):
            a = np.asarray(tensors[prefix + f])
            if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
                raise ValueError(f"{prefix + f} must be a 1-D integer array, got {a.dtype} of shape {a.shape}")
            setattr(out, f, np.ascontiguousarray(a, dtype=DTYPES[f]).copy())
        cap = len(out.keys)
        if cap < 16 or cap & (cap - 1) or len(out.heads) != cap or len(out.tot) != cap or len(out.uniq) != cap:
            raise ValueError("count table arrays have inconsistent sizes (slots: a power of 2, at least 16)")
        if len(out.c0) != 256 or len(out.meta) != 4:
            raise ValueError("count table header arrays have wrong sizes")
        n = int(out.meta[META_NODES])
        for f in _NODE_FIELDS:
            src = np.asarray(tensors[prefix + f])
            if src.ndim != 1 or len(src) != n or (src.size and src.dtype.kind not in "iu"):
                raise ValueError(f"{prefix + f} has {src.dtype} of shape {src.shape}, expected {n} integers")
        nodes = 1 << max(4, (n + 1).bit_length())
        for f, fill in (("nbyte", 0), ("ncnt", 0), ("nnext", -1)):
            a = np.full(nodes, fill, dtype=DTYPES[f])
            a[:n] = tensors[prefix + f]
            setattr(out, f, a)
        # the compiled kernels index without bounds checks: every index must point inside the pool
        used = out.keys != 0
        if (np.any((out.heads < -1) | (out.heads >= n)) or np.any((out.nnext[:n] < -1) | (out.nnext[:n] >= n))
                or np.any(out.heads[~used] != -1) or int(out.meta[META_CONTEXTS]) != int(used.sum())
                or int(out.meta[META_N0]) != int(out.c0.sum()) or int(out.meta[META_U0]) != int((out.c0 > 0).sum())
                or np.any(out.tot < 0) or np.any(out.uniq < 0) or np.any(out.c0 < 0) or np.any(out.keys < 0)):
            raise ValueError("count tables are inconsistent (node indices out of range or header counts wrong)")
        if out.n_contexts * LOAD_DEN >= cap * LOAD_NUM:
            raise ValueError(f"count tables are overfull: {out.n_contexts:,} contexts in {cap:,} slots "
                             f"(fewer than {100 * LOAD_NUM // LOAD_DEN}% of the slots may be used)")
        if len(np.unique(out.keys[used])) != out.n_contexts:
            raise ValueError("count tables hold a context twice")
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

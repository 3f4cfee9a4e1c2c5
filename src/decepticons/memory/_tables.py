"""CountTables: the growable arrays behind every count memory (layout in :mod:`._kernels`).

``copy()`` gives an independent working copy (adaptive models score from a copy of the fitted tables and
never touch the original); ``grow()`` doubles whichever part is full; ``tensors()`` / ``from_tensors``
persist only the used part.
"""

from __future__ import annotations

import numpy as np

from ._kernels import get_kernels

_SLOT_FIELDS = ("keys", "heads", "tot", "uniq")
_NODE_FIELDS = ("nbyte", "ncnt", "nnext")


class CountTables:
    def __init__(self, cap: int = 1 << 12, nodes: int = 1 << 14) -> None:
        cap = 1 << max(4, int(cap - 1).bit_length())
        self.keys = np.zeros(cap, dtype=np.int64)
        self.heads = np.full(cap, -1, dtype=np.int64)
        self.tot = np.zeros(cap, dtype=np.int64)
        self.uniq = np.zeros(cap, dtype=np.int64)
        self.nbyte = np.zeros(nodes, dtype=np.int64)
        self.ncnt = np.zeros(nodes, dtype=np.int64)
        self.nnext = np.full(nodes, -1, dtype=np.int64)
        self.c0 = np.zeros(256, dtype=np.int64)
        self.meta = np.zeros(4, dtype=np.int64)

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        return int(self.meta[0])

    @property
    def n_contexts(self) -> int:
        return int(self.meta[1])

    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in _SLOT_FIELDS + _NODE_FIELDS)

    def args(self) -> tuple:
        return (self.keys, self.tot, self.uniq, self.heads, self.nbyte, self.ncnt, self.nnext, self.c0, self.meta)

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
        out.nbyte = np.zeros(nodes, dtype=np.int64)
        out.ncnt = np.zeros(nodes, dtype=np.int64)
        out.nnext = np.full(nodes, -1, dtype=np.int64)
        n = self.n_nodes
        out.nbyte[:n] = self.nbyte[:n]
        out.ncnt[:n] = self.ncnt[:n]
        out.nnext[:n] = self.nnext[:n]
        return out

    def grow(self, n_orders: int, use_numba: bool = True) -> None:
        """Double the node pool and/or the slot table (rehashing) so the next position fits."""
        if self.n_nodes + n_orders + 1 >= len(self.nbyte):
            m = len(self.nbyte) * 2
            for f, fill in (("nbyte", 0), ("ncnt", 0), ("nnext", -1)):
                old = getattr(self, f)
                new = np.full(m, fill, dtype=np.int64)
                new[:len(old)] = old
                setattr(self, f, new)
        if (self.n_contexts + n_orders) * 10 >= len(self.keys) * 7:
            cap = len(self.keys) * 2
            nk = np.zeros(cap, dtype=np.int64)
            nh = np.full(cap, -1, dtype=np.int64)
            nt = np.zeros(cap, dtype=np.int64)
            nu = np.zeros(cap, dtype=np.int64)
            get_kernels(use_numba).rehash(self.keys, self.heads, self.tot, self.uniq, nk, nh, nt, nu)
            self.keys, self.heads, self.tot, self.uniq = nk, nh, nt, nu

    # ------------------------------------------------------------------ persistence
    def tensors(self, prefix: str = "") -> dict[str, np.ndarray]:
        n = self.n_nodes
        out = {prefix + f: getattr(self, f) for f in _SLOT_FIELDS + ("c0", "meta")}
        for f in _NODE_FIELDS:
            out[prefix + f] = getattr(self, f)[:n]
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], prefix: str = "") -> CountTables:
        out = cls.__new__(cls)
        for f in _SLOT_FIELDS + ("c0", "meta"):
            setattr(out, f, np.ascontiguousarray(tensors[prefix + f], dtype=np.int64).copy())
        cap = len(out.keys)
        if cap & (cap - 1) or len(out.heads) != cap or len(out.tot) != cap or len(out.uniq) != cap:
            raise ValueError("count table arrays have inconsistent sizes")
        if len(out.c0) != 256 or len(out.meta) != 4:
            raise ValueError("count table header arrays have wrong sizes")
        n = int(out.meta[0])
        nodes = 1 << max(4, (n + 1).bit_length())
        for f, fill in (("nbyte", 0), ("ncnt", 0), ("nnext", -1)):
            src = np.asarray(tensors[prefix + f], dtype=np.int64)
            if len(src) != n:
                raise ValueError(f"{prefix + f} has {len(src)} entries, expected {n}")
            a = np.full(nodes, fill, dtype=np.int64)
            a[:n] = src
            setattr(out, f, a)
        return out

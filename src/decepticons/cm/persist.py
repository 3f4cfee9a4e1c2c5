"""Sparse persistence of the bit-level model: only the context-table slots in use are written.

``T: uint32[S, 16]`` is stored as ``T_index: int64[k]`` (slot numbers, strictly increasing) and
``T_slots: uint32[k, 16]`` (those slots; entry 0, the tag, nonzero). The second APM ``A2: float64[65536, 33]``
is stored as the rows that moved from their initial values (``A2_index: int64[r]`` strictly increasing,
``A2_rows: float64[r, 33]``); every other array is stored whole. Loading checks every name, shape, dtype
and index before scattering the slots into a zero table of the size the validated configuration
describes, so memory is bounded by the configuration and the file."""

from __future__ import annotations

import numpy as np

from .state import CMState

DENSE = ("CM", "W", "L2", "MM", "RM", "A1")


def state_to_tensors(s: CMState, fresh: CMState) -> dict[str, np.ndarray]:
    """Tensors of state ``s``; ``fresh``: a new model's state (the initial APM rows)."""
    flat = s.T
    used = np.flatnonzero(flat[:, 0])
    out = {"T_index": used.astype(np.int64), "T_slots": np.ascontiguousarray(flat[used])}
    out.update({name: getattr(s, name) for name in DENSE})
    moved = np.flatnonzero(np.any(s.A2 != fresh.A2, axis=1))
    out["A2_index"] = moved.astype(np.int64)
    out["A2_rows"] = np.ascontiguousarray(s.A2[moved])
    return out


def state_from_tensors(tensors: dict[str, np.ndarray], fresh: CMState) -> CMState:
    """The state in ``tensors`` over the shapes of ``fresh`` (a new model of the same configuration);
    raises ``ValueError`` naming what does not match."""
    names = {"T_index", "T_slots", "A2_index", "A2_rows", *DENSE}
    extra = sorted(set(tensors) - names)
    missing = sorted(names - set(tensors))
    if extra or missing:
        raise ValueError(f"tensors {missing} missing, {extra} unexpected")
    n = fresh.T.shape[0]
    index = np.asarray(tensors["T_index"])
    slots = np.asarray(tensors["T_slots"])
    if index.dtype != np.int64 or index.ndim != 1:
        raise ValueError(f"T_index must be int64[k], got {index.dtype}{list(index.shape)}")
    if slots.dtype != np.uint32 or slots.shape != (len(index), 16):
        raise ValueError(f"T_slots must be uint32[{len(index)}, 16], got {slots.dtype}{list(slots.shape)}")
    if len(index) and (index[0] < 0 or index[-1] >= n or np.any(np.diff(index) <= 0)):
        raise ValueError(f"T_index must be strictly increasing slot numbers in 0..{n - 1}")
    if len(index) and not np.all(slots[:, 0]):
        raise ValueError("every stored slot must carry a nonzero tag (entry 0)")
    a2i = np.asarray(tensors["A2_index"])
    a2r = np.asarray(tensors["A2_rows"])
    rows, cells = fresh.A2.shape
    if a2i.dtype != np.int64 or a2i.ndim != 1 or a2r.shape != (len(a2i), cells):
        raise ValueError(f"A2_index must be int64[r] and A2_rows float64[r, {cells}]")
    if len(a2i) and (a2i[0] < 0 or a2i[-1] >= rows or np.any(np.diff(a2i) <= 0)):
        raise ValueError(f"A2_index must be strictly increasing rows in 0..{rows - 1}")
    A2 = fresh.A2.copy()
    A2[a2i] = a2r
    dense = {"A2": A2}
    for name in DENSE:
        a = np.asarray(tensors[name])
        want = getattr(fresh, name)
        if a.shape != want.shape:
            raise ValueError(f"{name} has shape {a.shape}, expected {want.shape}")
        dense[name] = np.ascontiguousarray(a, dtype=np.float64).copy()
    T = np.zeros_like(fresh.T)
    T[index] = slots
    return CMState(T=T, **dense)

"""Options of the count memories (``--config key=value``), declared and validated with
:mod:`decepticons.validation`.

``orders`` is an int ``k`` (orders 1..k) or a strictly increasing list of context lengths in 1..24;
``discount`` / ``escape`` (``d_r`` / ``b_r`` of the escape chain, :mod:`.kernels.chain`) are one value for
every row or one per row, order 0 first. Configs store them normalised (tuples, one value per row).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..validation import Spec, Validated, check_value, fail, spec

ORDER = Spec(kind="int", lo=1, hi=24)


def check_orders(owner: str, value: Any) -> tuple[int, ...]:
    """``orders`` normalised to a tuple of context lengths (an int k means 1..k)."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        k = check_value(owner, "orders", value, ORDER)
        return tuple(range(1, k + 1))
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise InputError(f"{owner}.orders must be an int or a list of ints, got {value!r}")
    orders = tuple(check_value(owner, f"orders[{i}]", v, ORDER) for i, v in enumerate(value))
    if not orders or sorted(set(orders)) != list(orders):
        raise fail(owner, f"orders must be strictly increasing context lengths in 1..24, got {list(orders)}")
    return orders


def check_per_row(obj: Any, name: str, n: int) -> tuple[float, ...]:
    """Field ``name`` of the config ``obj`` as ``n`` floats (one value broadcast, or exactly ``n``), each
    checked against the field's own :class:`Spec`."""
    owner = type(obj).__name__
    meta = {f.name: f for f in dataclasses.fields(obj)}[name].metadata
    rule = dataclasses.replace(meta["spec"], kind="float")
    value = getattr(obj, name)
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != n:
            raise InputError(f"{owner}.{name} needs one value or {n} values (order 0 first), got {len(value)}")
        return tuple(check_value(owner, f"{name}[{i}]", v, rule) for i, v in enumerate(value))
    return (check_value(owner, name, value, rule),) * n


def check_smoothing(obj: Any, n: int) -> None:
    """Normalise ``obj.discount`` / ``obj.escape`` to ``n`` rows; refuse a row with no escape mass."""
    discount = check_per_row(obj, "discount", n)
    escape = check_per_row(obj, "escape", n)
    for r, (d, b) in enumerate(zip(discount, escape)):
        if d == 0 and b == 0:
            raise fail(type(obj).__name__, f"discount and escape cannot both be 0 (row {r}: no escape mass)")
    object.__setattr__(obj, "discount", discount)
    object.__setattr__(obj, "escape", escape)


DISCOUNT_DOC = "absolute discount d_r per row (one value, or one per row, order 0 first)"
ESCAPE_DOC = "escape offset b_r per row (one value, or one per row, order 0 first)"


@dataclass
class CountConfig(Validated):
    """Options shared by the n-gram memories (defaults: ``ngram``)."""

    orders: int | tuple[int, ...] = spec(6, lo=1, hi=24, doc="k (orders 1..k) or increasing context lengths")
    discount: float | tuple[float, ...] = spec(0.7, lo=0.0, hi=1.0, hi_open=True, doc=DISCOUNT_DOC)
    escape: float | tuple[float, ...] = spec(0.3, lo=0.0, doc=ESCAPE_DOC)
    exclusion: bool = spec(True, doc="PPM update exclusion (lower orders count novel events only)")
    max_total: int = spec(1 << 30, lo=2, hi=1 << 30, doc="a context's counts are halved beyond this total")
    online: bool = spec(True, doc="keep counting the scored bytes (adaptive)")

    def n_rows(self) -> int:
        """Rows of the chain: order 0 and every order."""
        return len(self.orders) + 1  # type: ignore[arg-type]

    def check(self) -> None:
        object.__setattr__(self, "orders", check_orders(type(self).__name__, self.orders))
        check_smoothing(self, self.n_rows())


@dataclass
class NGramConfig(CountConfig):
    """Options of :class:`~decepticons.memory.ngram.NGramPredictor`."""


@dataclass
class BackoffConfig(CountConfig):
    """Options of :class:`~decepticons.memory.backoff.BackoffPredictor`."""

    orders: int | tuple[int, ...] = spec(5, lo=1, hi=24, doc="k (orders 1..k) or increasing context lengths")
    holdout: float = spec(0.1, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                          doc="tail of the training bytes the mixture weights are fitted on")
    em_iters: int = spec(30, lo=0, hi=100_000, doc="EM iterations for the mixture weights")


@dataclass
class OnlineNGramConfig(CountConfig):
    """Options of :class:`~decepticons.memory.online.OnlineNGramPredictor` (always adaptive)."""

    orders: int | tuple[int, ...] = spec(5, lo=1, hi=24, doc="k (orders 1..k) or increasing context lengths")
    max_total: int = spec(255, lo=2, hi=1 << 30, doc="a context's counts are halved beyond this total")
    online: bool = spec(True, choices=(True,), doc="always on")
    prime: bool = spec(True, doc="start scoring from the fitted counts (else from empty tables)")


@dataclass
class ExactContextConfig(Validated):
    """Options of :class:`~decepticons.memory.exact_context.ExactContextPredictor` (one order)."""

    order: int = spec(3, lo=1, hi=24, doc="context length in bytes")
    discount: float | tuple[float, ...] = spec(0.7, lo=0.0, hi=1.0, hi_open=True, doc=DISCOUNT_DOC)
    escape: float | tuple[float, ...] = spec(0.3, lo=0.0, doc=ESCAPE_DOC)
    exclusion: bool = spec(False, doc="PPM update exclusion (order 0 counts novel events only)")
    max_total: int = spec(1 << 30, lo=2, hi=1 << 30, doc="a context's counts are halved beyond this total")
    online: bool = spec(True, doc="keep counting the scored bytes (adaptive)")

    @property
    def orders(self) -> tuple[int, ...]:
        return (self.order,)

    def check(self) -> None:
        check_smoothing(self, 2)

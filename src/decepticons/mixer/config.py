"""Options of :class:`~decepticons.mixer.predictor.MixerPredictor` (``--config key=value``), validated with
:mod:`decepticons.validation`. The count-memory options keep their meaning (:mod:`decepticons.memory.config`);
``discount`` / ``escape`` have one row more per extra (word) context."""

from __future__ import annotations

from dataclasses import dataclass

from ..memory.config import CountConfig, check_orders, check_smoothing
from ..validation import Spec, fail, spec

WORD_CONTEXTS = ("word", "word+previous", "word+previous 2", "sparse", "line")


@dataclass
class MixerConfig(CountConfig):
    """Options of the mixer (the count-memory options of :class:`CountConfig`, then the mixer's own)."""

    max_total: int = spec(511, lo=2, hi=1 << 30, doc="a context's counts are halved beyond this total")
    lr: float = spec(0.0005, lo=0.0, doc="learning rate of the first weight sets")
    lr2: float = spec(0.0005, lo=0.0, doc="learning rate of the second weight sets (by previous byte)")
    match_min: int = spec(8, lo=0, hi=32, doc="minimum match length of the match model (0: off)")
    word: int = spec(5, lo=0, hi=5, doc="extra contexts: " + ", ".join(WORD_CONTEXTS) + " (the first n)")
    apm_rate: float = spec(0.02, lo=0.0, hi=1.0, doc="adaptive probability maps' rate (0: no APM stage)")
    indep: bool = spec(False, doc="orders below the top as independent estimates, not chain rows")
    select_match: bool = spec(True, doc="first weight sets also selected by the match state")
    select_word: bool = spec(True, doc="... and by the confidence of the word context")
    select_doc: bool = spec(False, doc="... and by the longest document order seen")
    see_rate: float = spec(0.02, lo=0.0, doc="learning rate of the chain's escapes (0: fixed escapes)")
    doc_orders: tuple[int, ...] | None = spec(None, optional=True, items=Spec(kind="int", lo=1, hi=24),
                                              doc="orders of the document memory (default: 2 and 4 when used)")
    fit_experts: bool = spec(True, doc="fit the external experts in fit")

    def n_rows(self) -> int:
        """Rows of the smoothing parameters: order 0, every order, every extra context."""
        return len(self.orders) + 1 + self.word  # type: ignore[arg-type]

    def check(self) -> None:
        owner = type(self).__name__
        orders = check_orders(owner, self.orders)
        object.__setattr__(self, "orders", orders)
        check_smoothing(self, self.n_rows())
        doc = self.doc_orders
        if doc is None:
            doc = tuple(k for k in (2, 4) if k in orders)
        if any(k not in orders for k in doc) or sorted(set(doc)) != list(doc):
            raise fail(owner, f"doc_orders must be increasing and among orders {list(orders)}, got {list(doc)}")
        object.__setattr__(self, "doc_orders", tuple(doc))

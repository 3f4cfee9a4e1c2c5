"""Options of :class:`~decepticons.mixer.predictor.MixerPredictor` (``--config key=value``), validated with
:mod:`decepticons.validation`. The count-memory options keep their meaning (:mod:`decepticons.memory.config`);
``discount`` / ``escape`` have one row more per extra (word) context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..memory.config import CountConfig, check_orders, check_smoothing
from ..validation import Spec, fail, spec
from .experts import EXPERT_CONTEXTS

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
    expert_lr: float = spec(0.003, lo=0.0, doc="learning rate of the expert stage (weights of the base mix and "
                            "of each expert, see decepticons.mixer.experts)")
    expert_folds: int = spec(2, lo=1, hi=16, doc="honest expert predictions in fit: K contiguous folds of the "
                             "training bytes, each predicted by a copy of the expert fitted on the other folds, "
                             "then the expert is fitted on every byte for scoring (1: in-sample, the expert "
                             "fitted on all bytes predicts them)")
    expert_context: str = spec("confidence", choices=EXPERT_CONTEXTS,
                               doc="what chooses each expert's weight: nothing, its agreement with the base, that "
                                   "and its top-1 mass and the base's (confidence), or that and its entropy")
    fixed_experts: tuple[int, ...] = spec((), items=Spec(kind="int", lo=0, hi=63),
                                          doc="indices of experts used as given (not fitted by fit, e.g. a "
                                              "trained causal bank); with fit_experts off, every expert is")
    fixed_in_fit: bool = spec(False, doc="fixed experts also predict the training bytes in fit (honest only "
                              "when they were trained on other bytes); off: their weights start at zero and "
                              "learn while scoring")

    #: options that only matter with external experts (recorded in a model file only when it has experts)
    EXPERT_OPTIONS: ClassVar[tuple[str, ...]] = ("expert_lr", "expert_folds", "expert_context", "fixed_experts",
                                                    "fixed_in_fit")

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

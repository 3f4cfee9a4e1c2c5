"""The mixer's kernel arguments as named tuples, and the slots of its small integer arrays.

``n_in`` inputs (rows of ``X``), ``no`` n-gram orders, ``nw`` extra (word) contexts, ``nd`` document orders,
``E`` external experts (mixed with the base mix by the expert stage, :mod:`.experts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..memory.count_tables import CountTables
from ..memory.kernels import ChainBuffers, CountParams, TableArrays

# ``sel: int64[7]``, the per-position selections (written by the prediction, read by learning)
SEL_SET1 = 0      # first weight set (order / confidence / match / word / document context)
SEL_SET2 = 1      # second weight set (the previous byte)
SEL_MATCH = 2     # byte predicted by the match model (-1: no match)
SEL_BEST = 3      # the APM's b* (most likely byte of the mix)
SEL_CELL = 4      # the APM cell j of stretch(p(b*))
SEL_APM1 = 5      # context of the first APM (highest seen order, match agrees with b*)
SEL_PREV = 6      # previous byte (256 at the start): context of the second APM
N_SEL = 7

# ``mstate: int64[2]``, the match model's state
MATCH_PTR = 0     # position in ``hist`` of the byte the current match predicts
MATCH_LEN = 1     # current match length (0: no match)


class MixerParams(NamedTuple):
    """Learning rates and switches of the mixer (fixed for a model)."""

    lr: float             # first weight set's rate
    lr2: float            # second weight set's rate
    apm_rate: float       # APM node rate
    see_rate: float       # learned-escape rate (0: the escapes stay as fitted)
    apm: bool             # whether the APM stage refines the mix
    indep: bool           # orders below the top as independent rows instead of the chain's intermediate rows
    select_match: bool    # first weight set also selected by the match state
    select_word: bool     # ... and by the confidence of the word context
    select_doc: bool      # ... and by the longest document order seen
    match_min: int        # minimum match length (0: no match model)
    expert_lr: float      # expert stage's rate (:mod:`.experts`)
    expert_ctx: int       # expert stage's weight contexts: an index of ``experts.EXPERT_CONTEXTS``


class MixerState(NamedTuple):
    """Learned arrays (saved with the model) and the match model's working arrays."""

    W1: np.ndarray        # float64[n_sets1, n_in + 1]: first weight sets (last column: update count)
    W2: np.ndarray        # float64[257, n_in + 1]: second weight sets, by previous byte
    mconf: np.ndarray     # float64[32]: match hit rate by match length
    A1: np.ndarray        # float64[(no + 1) * 2, 33]: first APM
    A2: np.ndarray        # float64[257, 33]: second APM
    see: np.ndarray       # float64[no + 1, 32]: learned escape corrections
    mtab: np.ndarray      # int64[2**20] (or [1] without a match model): context hash -> position after it
    mstate: np.ndarray    # int64[2]: MATCH_PTR, MATCH_LEN
    U: np.ndarray         # float64[E + 1, N_CTX, 2]: expert stage's weight and update count per input and context


class ExpertBuffers(NamedTuple):
    """Working buffers of the expert stage (:mod:`.experts`)."""

    X: np.ndarray         # float64[E + 1, 256]: the base mix's log-distribution, then each expert's (floored)
    z: np.ndarray         # float64[256]: the stage's logits
    p: np.ndarray         # float64[256]: its distribution (before the APM)
    ctx: np.ndarray       # int64[E + 1]: context choosing each input's weight
    active: np.ndarray    # int64[E]: 1 where expert j takes part (0: its weight is not used, nor learned)


class MixerScratch(NamedTuple):
    """Per-position working buffers."""

    chain: ChainBuffers   # contexts (no + nw), slots, p_top, info of the n-gram chain
    X: np.ndarray         # float64[n_in, 256]: input log-distributions
    z: np.ndarray         # float64[256]: mixed logits
    p: np.ndarray         # float64[256]: mixed distribution (before the APM)
    pf: np.ndarray        # float64[256]: final distribution
    lrow: np.ndarray      # float64[256]: its logarithm
    sel: np.ndarray       # int64[N_SEL]: SEL_* selections
    apm_w: np.ndarray     # float64[1]: APM interpolation weight of the cell (-1: APM skipped)
    see_e: np.ndarray     # float64[no]: escape used by each chained order
    see_idx: np.ndarray   # int64[no]: its SEE cell (-1: unseen context)
    experts: ExpertBuffers


class DocMemory(NamedTuple):
    """The document memory: a count table over order 0 and ``nd`` of the orders, of the current document."""

    tables: TableArrays
    params: CountParams   # its orders, discount / escape rows (order 0 first), update rules
    sel: np.ndarray       # int64[nd]: indices of its orders among the mixer's orders
    buf: ChainBuffers     # contexts (nd), slots, p_top, info


def chain_buffers(n_contexts: int) -> ChainBuffers:
    return ChainBuffers(np.zeros(n_contexts, dtype=np.int64), np.zeros(n_contexts, dtype=np.int64),
                        np.zeros(256), np.zeros(3, dtype=np.int64))


def mixer_scratch(n_inputs: int, n_orders: int, n_contexts: int, n_experts: int = 0) -> MixerScratch:
    """Fresh working buffers (every expert active)."""
    chain = chain_buffers(n_contexts)
    experts = ExpertBuffers(X=np.zeros((n_experts + 1, 256)), z=np.zeros(256), p=np.zeros(256),
                            ctx=np.zeros(n_experts + 1, dtype=np.int64), active=np.ones(n_experts, dtype=np.int64))
    return MixerScratch(chain=chain, X=np.zeros((n_inputs, 256)), z=np.zeros(256), p=np.zeros(256),
                        pf=np.zeros(256), lrow=np.zeros(256), sel=np.zeros(N_SEL, dtype=np.int64),
                        apm_w=np.zeros(1), see_e=np.zeros(n_orders), see_idx=np.zeros(n_orders, dtype=np.int64),
                        experts=experts)


@dataclass
class Work:
    """What one run (fit, scoring, a stream) works on: growable tables, learned state, buffers."""

    tables: CountTables
    state: MixerState
    scratch: MixerScratch
    doc_params: CountParams
    doc_sel: np.ndarray
    doc_tables: CountTables = field(default_factory=CountTables)
    doc_buf: ChainBuffers = field(default_factory=lambda: chain_buffers(0))

    def reset_doc(self) -> None:
        """Empty document memory (it only ever counts the current document)."""
        self.doc_tables = CountTables()
        self.doc_buf = chain_buffers(len(self.doc_sel))

    def doc(self) -> DocMemory:
        return DocMemory(self.doc_tables.arrays(), self.doc_params, self.doc_sel, self.doc_buf)

    def grow(self, n_contexts: int, use_numba: bool) -> None:
        """Make room for one more position in both tables (``n_contexts`` n-gram and word contexts)."""
        self.tables.grow(n_contexts, use_numba)
        self.doc_tables.grow(len(self.doc_sel), use_numba)

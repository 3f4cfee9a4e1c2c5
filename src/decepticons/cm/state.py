"""The bit-level model's kernel arguments as named tuples, and their constructors.

``nc`` context models sharing one table of ``2**table_bits`` slots of 16 ``uint32`` entries (one 64-byte
line each; the context's index is part of every hash); ``ni = nc * (1 + confidence + runs) + 2`` mixer
inputs per binary node (each context's stretched probability, its state-map input, its run input, the match
model, a bias); ``nm`` first-layer mixers.
Nodes of the byte's binary tree are numbered ``1..255`` (``c0``: a leading 1, then the bits so far).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# ``rs: int64[N_RS]``, the running state of the context models (from the bytes before the position)
RS_WORD0 = 0      # hash of the current word's letters (0: not in a word)
RS_WORD1 = 1      # hash of the previous word
RS_WORD2 = 2      # hash of the word before it
RS_COL = 3        # column: bytes since the last newline
RS_LINE = 4       # position where the current line starts
RS_PLINE = 5      # position where the previous line starts (-1: none)
RS_INDENT = 6     # leading spaces/tabs of the current line
RS_INDENTING = 7  # 1 while the current line has only whitespace so far
RS_FIRST = 8      # first non-blank byte of the current line (0: none yet)
RS_MPTR = 9       # match model: position of the byte the match predicts
RS_MLEN = 10      # match model: current match length (0: none)
RS_NSEEN = 11     # how many contexts found their slot for this byte (weight-set selection)
N_RS = 12

#: entry value of an unseen node: probability 1/2 (16 bits), count 0, empty bit history
FRESH = 1 << 31
#: APM / confidence-map cells over stretch(p) in [-8, 8] (step 0.5)
CELLS = 33
#: count buckets of the confidence maps
N_COUNT_BUCKETS = 8
#: match-length buckets of the match model's hit rates
MATCH_BUCKETS = 32


class CMParams(NamedTuple):
    """Fixed options of a model (kernel scalars)."""

    kinds: np.ndarray      # int64[nc]: context kind of each context model (index in config.CONTEXT_KINDS)
    table_bits: int
    limit: int
    nm: int                # first-layer mixers
    lr: float
    lr2: float
    apm_rate: float
    match_min: int
    confidence: bool
    runs: bool


class CMState(NamedTuple):
    """Learned arrays (saved with the model; ``T`` sparsely)."""

    T: np.ndarray          # uint32[2**table_bits, 16]: entry 0 tag << 16 | priority; 1..15 the nodes,
                           # p16 << 16 | n << 8 | n0 << 4 | n1 (probability, count, bit history)
    CM: np.ndarray         # float64[nc, 256]: state maps, P(bit = 1) by bit history (n0, n1)
    W: np.ndarray          # float64[3, 512, ni]: first-layer weight sets (mixer k, set row)
    L2: np.ndarray         # float64[256, nm]: second-layer weights, by node
    MM: np.ndarray         # float64[MATCH_BUCKETS]: P(the match model's expected bit is right) by length
    RM: np.ndarray         # float64[nc, 16]: P(a context's last byte's bit is right) by its run length
    A1: np.ndarray         # float64[256, CELLS]: first APM, by node
    A2: np.ndarray         # float64[65536, CELLS]: second APM, by node and previous byte


class CMScratch(NamedTuple):
    """Per-position working arrays (written by the prediction, read by learning) and the running state."""

    ch: np.ndarray         # int64[nc]: context hashes at this position
    sidx: np.ndarray       # int64[nc, 17]: slot found for nibble n (0: high, 1 + h: low after high h); -1 none
    sbase: np.ndarray      # int64[nc, 17]: first candidate slot of nibble n (pair sbase, sbase ^ 1)
    stag: np.ndarray       # int64[nc, 17]: tag of nibble n
    X: np.ndarray          # float64[256, ni]: inputs per node
    CB: np.ndarray         # int64[256, nc]: bit history (state-map cell) per node and context
    SEL: np.ndarray        # int64[256, 3]: weight-set row per node and mixer
    DOT: np.ndarray        # float64[256, 4]: clipped mixer outputs (stretch domain); column 3: second layer
    PM: np.ndarray         # float64[256, 4]: mixer output probabilities; column 3: second layer
    MX: np.ndarray         # int64[256]: expected bit of the match model at the node (-1: none)
    RX: np.ndarray         # int64[256, nc]: expected bit of each context's run at the node (-1: none)
    run: np.ndarray        # int64[nc, 2]: each context's last byte (-1: none) and run bucket at t
    AJ: np.ndarray         # int64[256]: APM cell (lower of the two interpolated)
    AW: np.ndarray         # float64[256]: APM interpolation weight of the upper cell
    PF: np.ndarray         # float64[256]: final P(bit = 1) per node
    PP: np.ndarray         # float64[512]: tree products; PP[256 + b] = P(byte b)
    rs: np.ndarray         # int64[N_RS]: running state
    ind: np.ndarray        # int64[65536]: the two bytes that followed each pair of bytes, latest last
    mtab: np.ndarray       # int64[2**match_bits]: hash of the last match_min bytes -> position after them
    lut: np.ndarray        # float64[4096]: stretch of the 12-bit probability (i + 0.5) / 4096
    rows_full: np.ndarray  # int64[255, 4]: (node, depth, j, nibble) of every node, high nibble first
    rows_path: np.ndarray  # int64[8, 4]: the same for the path of one byte
    coder: np.ndarray      # int64[4]: binary coder state x1, x2, decoder value, bytes written / read
    nobuf: np.ndarray      # uint8[0]: the coding buffer when not coding


def n_inputs(nc: int, confidence: bool, runs: bool) -> int:
    return nc * (1 + int(confidence) + int(runs)) + 2


def new_state(nc: int, table_bits: int, nm: int, confidence: bool, runs: bool) -> CMState:
    ni = n_inputs(nc, confidence, runs)
    cells = (np.arange(CELLS) - 16) / 2.0
    node = 1.0 / (1.0 + np.exp(-cells))
    return CMState(T=np.zeros((1 << table_bits, 16), dtype=np.uint32),
                   CM=np.tile(history_prior(), (nc, 1)),
                   W=np.full((3, 512, ni), 0.3 / max(1, nc) * 4.0), L2=np.full((256, nm), 1.0 / nm),
                   MM=np.full(MATCH_BUCKETS, 0.75), RM=np.full((nc, 16), 0.75), A1=np.tile(node, (256, 1)),
                   A2=np.tile(node, (65536, 1)))


def history_prior() -> np.ndarray:
    """``float64[256]``: the initial state map, ``(n1 + 0.4) / (n0 + n1 + 0.8)`` for history ``n0 << 4 | n1``."""
    h = np.arange(256)
    n0, n1 = h >> 4, h & 15
    return (n1 + 0.4) / (n0 + n1 + 0.8)


def new_scratch(nc: int, confidence: bool, runs: bool, match_bits: int) -> CMScratch:
    ni = n_inputs(nc, confidence, runs)
    i = (np.arange(4096) + 0.5) / 4096.0
    rs = np.zeros(N_RS, dtype=np.int64)
    rs[RS_PLINE] = -1
    rs[RS_INDENTING] = 1
    return CMScratch(ch=np.zeros(nc, dtype=np.int64), sidx=np.full((nc, 17), -1, dtype=np.int64),
                     sbase=np.zeros((nc, 17), dtype=np.int64), stag=np.zeros((nc, 17), dtype=np.int64),
                     X=np.zeros((256, ni)), CB=np.zeros((256, nc), dtype=np.int64),
                     SEL=np.zeros((256, 3), dtype=np.int64), DOT=np.zeros((256, 4)), PM=np.zeros((256, 4)),
                     MX=np.full(256, -1, dtype=np.int64), RX=np.full((256, nc), -1, dtype=np.int64),
                     run=np.zeros((nc, 2), dtype=np.int64), AJ=np.zeros(256, dtype=np.int64), AW=np.zeros(256),
                     PF=np.zeros(256), PP=np.zeros(512), rs=rs, ind=np.zeros(65536, dtype=np.int64), mtab=np.zeros(1
<< match_bits, dtype=np.int64),
                     lut=np.log(i / (1.0 - i)), rows_full=full_rows(), rows_path=np.zeros((8, 4), dtype=np.int64),
                     coder=np.zeros(4, dtype=np.int64), nobuf=np.zeros(0, dtype=np.uint8))


def full_rows() -> np.ndarray:
    """``int64[255, 4]``: the 15 high-nibble nodes, then for each high nibble h its 15 low-nibble nodes."""
    rows = []
    for j in range(1, 16):
        rows.append((j, j.bit_length() - 1, j, 0))
    for h in range(16):
        for j in range(1, 16):
            dl = j.bit_length() - 1
            rows.append((((16 + h) << dl) | (j - (1 << dl)), 4 + dl, j, 1 + h))
    return np.asarray(rows, dtype=np.int64)


def copy_state(s: CMState) -> CMState:
    return CMState(*(a.copy() for a in s))

"""Context hashes, slot lookup and the match model: what the bit-level model knows at a byte boundary.

At position t (bytes ``hist[:t]`` known) :func:`cm_begin` first folds byte ``hist[t-1]`` into the running
state (word hashes, column, line starts, indentation, match model), then hashes each context model's
context (``ch[c]``, 32 bits) and looks up the slot of the high nibble. Context kinds (index in
``config.CONTEXT_KINDS``)::

    o0..o7, o9, o12   the last k bytes                      word   current word (else the last byte)
    word2             current and previous word             word3  current and two previous words
    sparse            bytes t-2, t-3                        sparse2 bytes t-3, t-4
    column            byte above (previous line, same column) and the column
    indent            indentation of the line, its first non-blank byte and the last byte
    indirect          the last byte and the two bytes that followed the last two bytes' previous occurrence

A high-nibble slot's entry 0 also keeps the last byte seen in the context and how many times in a row
(``tag << 16 | byte << 8 | run``); at position t ``run[c] = (byte, min(run, 15))`` (``-1``: none).

Slots: nibble ``n`` (0: the high nibble; ``1 + h``: the low nibble after high nibble ``h``) of context hash
``h`` maps to the pair of slots ``{b, b ^ 1}`` with ``b = H(h, n) mod 2**table_bits`` and a 16-bit tag; the
slot whose entry 0 carries the tag is the context's (``-1``: neither, the nibble is unseen). Lookups never
write; a slot is claimed by learning (:mod:`.learn`).

Match model: ``mtab`` maps a hash of the last ``match_min`` bytes to the position after their latest
occurrence; with no current match, a candidate is verified backwards (up to 32 bytes) and kept when at least
``match_min`` bytes agree. The expected byte is ``hist[mptr]``; the length grows by one per correct byte and
drops to 0 on a miss.
"""

from __future__ import annotations

from ..jit import kernel
from .state import (
    RS_COL,
    RS_FIRST,
    RS_INDENT,
    RS_INDENTING,
    RS_LINE,
    RS_MLEN,
    RS_MPTR,
    RS_NSEEN,
    RS_PLINE,
    RS_WORD0,
    RS_WORD1,
    RS_WORD2,
)

M32 = 0xFFFFFFFF
K_WORD = 8
K_WORD2 = 9
K_SPARSE = 10
K_SPARSE2 = 11
K_COLUMN = 12
K_INDENT = 13
K_O9 = 14
K_O12 = 15
K_WORD3 = 16
K_INDIRECT = 17


@kernel
def cm_hmix(h, v):
    """One step of the 32-bit context hash: ``h' = fin((h ^ v) * 0x01000193 + 0x7F4A7C15)``."""
    h = ((h ^ v) * 0x01000193 + 0x7F4A7C15) & M32
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & M32
    h ^= h >> 12
    return h


@kernel
def cm_hash_back(hist, t, k, h):
    """``h`` mixed with the last ``k`` bytes ``hist[t-k:t]`` (missing bytes before the start count as 256)."""
    for i in range(1, k + 1):
        v = 256
        if t - i >= 0:
            v = int(hist[t - i])
        h = cm_hmix(h, v)
    return h


@kernel
def cm_find_slot(T, c, h, n, table_bits, sidx, sbase, stag):
    """Look up nibble ``n`` of context ``c`` with hash ``h``: fills ``sidx/sbase/stag[c, n]``."""
    g = cm_hmix(h, 1000 + n)
    g2 = cm_hmix(g, 77)
    base = g & ((1 << table_bits) - 1)
    tag = (g2 >> 16) & 0xFFFF
    if tag == 0:
        tag = 1
    sbase[c, n] = base
    stag[c, n] = tag
    found = -1
    if (int(T[base, 0]) >> 16) == tag:
        found = base
    elif (int(T[base ^ 1, 0]) >> 16) == tag:
        found = base ^ 1
    sidx[c, n] = found
    return found


@kernel
def cm_is_letter(b):
    return (65 <= b <= 90) or (97 <= b <= 122) or b >= 128


@kernel
def cm_fold_byte(rs, hist, t):
    """Fold byte ``hist[t-1]`` into the running state (words, column, lines, indentation)."""
    b = int(hist[t - 1])
    if cm_is_letter(b):
        lb = b + 32 if 65 <= b <= 90 else b
        rs[RS_WORD0] = cm_hmix(rs[RS_WORD0] + 1, lb)
    elif rs[RS_WORD0] != 0:
        rs[RS_WORD2] = rs[RS_WORD1]
        rs[RS_WORD1] = rs[RS_WORD0]
        rs[RS_WORD0] = 0
    if b == 10:
        rs[RS_PLINE] = rs[RS_LINE]
        rs[RS_LINE] = t
        rs[RS_COL] = 0
        rs[RS_INDENT] = 0
        rs[RS_INDENTING] = 1
        rs[RS_FIRST] = 0
    else:
        rs[RS_COL] += 1
        if rs[RS_INDENTING] == 1:
            if b == 32 or b == 9:
                rs[RS_INDENT] += 1
            else:
                rs[RS_INDENTING] = 0
                rs[RS_FIRST] = b


@kernel
def cm_match_step(rs, mtab, hist, t, match_min):
    """Advance the match model past byte ``hist[t-1]`` and look for a new match at position ``t``."""
    mlen = rs[RS_MLEN]
    if mlen > 0:
        if hist[rs[RS_MPTR]] == hist[t - 1]:
            if mlen < 65535:
                mlen += 1
            rs[RS_MPTR] += 1
        else:
            mlen = 0
    if t >= match_min:
        h = cm_hash_back(hist, t, match_min, 0x3C6EF372)
        i = h & (len(mtab) - 1)
        if mlen == 0:
            cand = mtab[i]
            if cand > 0:
                n = 0
                while n < 32 and cand - 1 - n >= 0 and hist[cand - 1 - n] == hist[t - 1 - n]:
                    n += 1
                if n >= match_min:
                    mlen = n
                    rs[RS_MPTR] = cand
        mtab[i] = t
    rs[RS_MLEN] = mlen


@kernel
def cm_context_hash(kind, hist, t, rs, ind):
    """32-bit hash of context kind ``kind`` at position ``t`` (see the module docstring)."""
    h = cm_hmix(kind + 1, 0x9E3779B9)
    if kind <= 7:
        return cm_hash_back(hist, t, kind, h)
    if kind == K_O9:
        return cm_hash_back(hist, t, 9, h)
    if kind == K_O12:
        return cm_hash_back(hist, t, 12, h)
    c1 = 256
    if t >= 1:
        c1 = int(hist[t - 1])
    if kind == K_WORD:
        if rs[RS_WORD0] != 0:
            return cm_hmix(h, rs[RS_WORD0])
        return cm_hmix(cm_hmix(h, c1), 1)
    if kind == K_WORD2:
        return cm_hmix(cm_hmix(h, rs[RS_WORD0]), rs[RS_WORD1])
    if kind == K_WORD3:
        return cm_hmix(cm_hmix(cm_hmix(h, rs[RS_WORD0]), rs[RS_WORD1]), rs[RS_WORD2])
    if kind == K_INDIRECT:
        c2 = 0
        if t >= 2:
            c2 = int(hist[t - 2])
        return cm_hmix(cm_hmix(h, c1), ind[(c2 << 8) | (c1 & 0xFF)])
    if kind == K_SPARSE:
        return cm_hash_back(hist, t - 1, 2, h)
    if kind == K_SPARSE2:
        return cm_hash_back(hist, t - 2, 2, h)
    col = rs[RS_COL]
    if kind == K_COLUMN:
        above = 256
        pl = rs[RS_PLINE]
        if pl >= 0 and pl + col < rs[RS_LINE]:
            above = int(hist[pl + col])
        return cm_hmix(cm_hmix(h, above), min(col, 255))
    # K_INDENT
    return cm_hmix(cm_hmix(cm_hmix(h, min(rs[RS_INDENT], 63)), rs[RS_FIRST]), c1)


@kernel
def cm_begin(kinds, table_bits, match_min, T, ch, sidx, sbase, stag, rs, mtab, run, ind, hist, t):
    """Everything known at position ``t`` before its bits: running state, hashes, high-nibble slots."""
    if t > 0:
        cm_fold_byte(rs, hist, t)
        if t >= 3:  # the pair before the last byte was followed by it
            k = (int(hist[t - 3]) << 8) | int(hist[t - 2])
            ind[k] = ((ind[k] << 8) | int(hist[t - 1])) & 0xFFFF
        if match_min > 0:
            cm_match_step(rs, mtab, hist, t, match_min)
    nseen = 0
    for c in range(len(kinds)):
        h = cm_context_hash(kinds[c], hist, t, rs, ind)
        ch[c] = h
        s = cm_find_slot(T, c, h, 0, table_bits, sidx, sbase, stag)
        run[c, 0] = -1
        run[c, 1] = 0
        if s >= 0:
            nseen += 1
            head = int(T[s, 0])
            if head & 0xFF:
                run[c, 0] = (head >> 8) & 0xFF
                run[c, 1] = min(head & 0xFF, 15)
    rs[RS_NSEEN] = nseen

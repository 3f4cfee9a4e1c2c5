"""Context keys: which count-table contexts position t reads, as 54-bit integer keys.

Order k at position t: the bijective base-257 numeral of ``x[t-1], ..., x[t-k]`` (digits byte + 1) reduced
mod the prime ``P_MOD`` (2**54 - 33): exact (collision free) for k <= 6, a 54-bit hash beyond::

    h_0 = 0,   h_j = (257 h_{j-1} + x[t-j] + 1) mod P_MOD,   key_k = h_k  (1 if it is 0; 0 when t < k)

Extra contexts (the mixer's ``word`` inputs), in this order after the orders, each seeded by its own
constant so no two kinds share keys by construction:

* the letters of the current word so far (case folded, at most 32), then also the previous word, and the
  word before it (separated by at most 8 non-letters);
* sparse: the two bytes before the last one, ``x[t-2], x[t-3]``;
* line: the column (distance to the last newline, capped at 64) and the first two bytes of the line.
"""

from __future__ import annotations

from ...jit import kernel

P_MOD = 18014398509481951  # 2**54 - 33, prime


@kernel
def is_letter(c):
    return (65 <= c <= 90) or (97 <= c <= 122)


@kernel
def context_keys(hist, t, orders, out):
    """Keys of every context of position t: ``out[i]`` = key of ``hist[t - orders[i]:t]`` (orders
    ascending; 0 when t < orders[i]), then the extra contexts (:func:`extra_keys`) into the rest of
    ``out``."""
    n = orders.shape[0]
    h = 0
    oi = 0
    maxo = orders[n - 1]
    for j in range(1, maxo + 1):
        if j > t:
            break
        h = (h * 257 + int(hist[t - j]) + 1) % P_MOD
        if j == orders[oi]:
            out[oi] = h if h != 0 else 1
            oi += 1
    for r in range(oi, n):
        out[r] = 0
    if out.shape[0] > n:
        extra_keys(hist, t, out, n)


@kernel
def extra_keys(hist, t, out, first):
    """Keys of the word, previous-word(s), sparse and line contexts into ``out[first:]`` (as many as fit)."""
    nw = out.shape[0] - first
    h = 1000003
    j = t - 1
    while j >= 0 and t - 1 - j < 32 and is_letter(int(hist[j])):
        h = (h * 257 + (int(hist[j]) | 32) + 1) % P_MOD
        j -= 1
    out[first] = h
    for wi in range(1, min(nw, 3)):  # ... plus the previous word, the word before it
        h = (h * 257 + 257) % P_MOD
        k = 0
        while j >= 0 and k < 8 and not is_letter(int(hist[j])):
            j -= 1
            k += 1
        k = 0
        while j >= 0 and k < 32 and is_letter(int(hist[j])):
            h = (h * 257 + (int(hist[j]) | 32) + 1) % P_MOD
            j -= 1
            k += 1
        out[first + wi] = h if h != 0 else 1
    if nw > 3:  # sparse context: the two bytes before the last one
        h = 2000003
        for j in range(2, 4):
            h = (h * 257 + (int(hist[t - j]) + 1 if t - j >= 0 else 0)) % P_MOD
        out[first + 3] = h
    if nw > 4:  # line context: column (capped) and the first two bytes of the current line
        j = t - 1
        while j >= 0 and t - 1 - j < 64 and hist[j] != 10:
            j -= 1
        h = (3000017 * 257 + (t - 1 - j)) % P_MOD
        for i in range(j + 1, min(j + 3, t)):
            h = (h * 257 + int(hist[i]) + 1) % P_MOD
        out[first + 4] = h


"""CRC32C of many byte ranges of one buffer at once, in numpy lockstep."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from traindx.readers.tfrecord.crc import (
    CHUNK,
    _byte_tables,
    _chunk_shift_tables,
    _word_tables,
    _z_of,
)

_BLOCK = 8192  # ranges per lockstep block: keeps the working set in cache
_MASK32 = 0xFFFFFFFF


@lru_cache(maxsize=1)
def _unfeed_table() -> tuple[np.ndarray, np.ndarray]:
    """(T0, R) with ``R[T0[b] >> 24] = b``: undoes one zero byte fed to a raw state."""
    t0 = _byte_tables()[0].astype(np.int64)
    r = np.zeros(256, dtype=np.int64)
    r[t0 >> 24] = np.arange(256)
    return t0, r


def _unfeed_zeros(state: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Raw states before ``count`` (0..3) trailing zero bytes were fed (in place)."""
    t0, r = _unfeed_table()
    for k in range(1, 4):
        sel = np.flatnonzero(count >= k)
        if not sel.size:
            break
        if sel.size == state.size:
            b = r[state >> 24]
            state ^= t0[b]
            state <<= 8
            state |= b
        else:
            s = state[sel]
            b = r[s >> 24]
            state[sel] = ((s ^ t0[b]) << 8) | b
    return state


def _crc0_aligned(a32: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Raw CRC states (zero init, no final xor) of ranges of 1..CHUNK bytes, as int64.

    Reads the aligned 32-bit words that overlap each range, all ranges of a block in
    lockstep, one word per step: ``x = state ^ word; state = TA[x & 0xffff] ^ TB[x >> 16]``.
    Columns are aligned on the last word of each range; bytes before a range's start (and
    whole words before it, for ranges shorter than the block's longest) are masked to zero,
    which changes nothing from a zero state; bytes after the end are masked too and then
    fed back out with the inverse zero-byte step.
    """
    m = starts.size
    ta, tb = _word_tables()
    out = np.empty(m, dtype=np.int64)
    for b0 in range(0, m, _BLOCK):
        b1 = min(m, b0 + _BLOCK)
        st, en = starts[b0:b1], ends[b0:b1]
        last = (en - 1) >> 2
        nw = last - (st >> 2) + 1
        width, wmin = int(nw.max()), int(nw.min())
        if width - wmin > 8:
            order = np.argsort(-nw, kind="stable")
            out[b0 + order] = _crc0_sorted(a32, st[order], en[order], ta, tb)
            continue
        lead = (_MASK32 << ((st & 3) << 3)) & _MASK32
        trail = (-en) & 3
        idx = last - (width - 1)  # word index of column 0
        first_col = width - nw
        crc = np.zeros(b1 - b0, dtype=np.int64)
        lo = np.empty(b1 - b0, dtype=np.int64)
        hi = np.empty(b1 - b0, dtype=np.int64)
        for c in range(width):
            w = a32[idx]
            if c <= width - wmin:  # some ranges start in this column or later
                w = w.astype(np.int64)
                w &= np.where(first_col == c, lead, np.where(first_col < c, _MASK32, 0))
            if c == width - 1:
                w = w & (_MASK32 >> (trail << 3))
            crc ^= w
            np.bitwise_and(crc, 0xFFFF, out=lo)
            np.right_shift(crc, 16, out=hi)
            crc = ta[lo]
            crc ^= tb[hi]
            idx += 1
        out[b0:b1] = _unfeed_zeros(crc, trail)
    return out


def _crc0_sorted(a32: np.ndarray, starts: np.ndarray, ends: np.ndarray, ta, tb) -> np.ndarray:
    """As :func:`_crc0_aligned` for one block sorted by word count (most first): the ranges
    still to start are a suffix, so each column works on a prefix."""
    last = (ends - 1) >> 2
    nw = last - (starts >> 2) + 1
    width = int(nw[0])
    act = np.searchsorted(-nw, -(width - np.arange(width)), side="right")
    lead = (_MASK32 << ((starts & 3) << 3)) & _MASK32
    trail = (-ends) & 3
    col0 = last - (width - 1)
    crc = np.zeros(starts.size, dtype=np.int64)
    k_prev = 0
    for c in range(width):
        k = int(act[c])
        w = a32[col0[:k] + c].astype(np.int64)
        if k > k_prev:
            w[k_prev:k] &= lead[k_prev:k]
            k_prev = k
        if c == width - 1:
            w &= _MASK32 >> (trail << 3)
        w ^= crc[:k]
        crc[:k] = ta[w & 0xFFFF] ^ tb[w >> 16]
    return _unfeed_zeros(crc, trail)


def _as_words(buf: np.ndarray) -> np.ndarray:
    """``buf`` as little-endian uint32 words (copied only if misaligned or of odd size)."""
    if buf.ctypes.data % 4 or buf.size % 4:
        padded = np.zeros((buf.size + 7) // 4 * 4, dtype=np.uint8)
        padded[: buf.size] = buf
        buf = padded
    return buf.view("<u4")


def crc32c_ranges(buf: np.ndarray, starts, lengths) -> np.ndarray:
    """CRC32C of ``buf[starts[i] : starts[i] + lengths[i]]`` for every i, as uint32."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.zeros(starts.size, dtype=np.int64)
    if starts.size == 0:
        return out.astype(np.uint32)
    if (lengths < 0).any() or (starts < 0).any() or int((starts + lengths).max()) > buf.size:
        raise ValueError("range outside the buffer")
    a32 = _as_words(buf)
    longs = lengths > CHUNK
    short = np.flatnonzero(~longs & (lengths > 0))
    if short.size == starts.size:
        out = _crc0_aligned(a32, starts, starts + lengths)
    elif short.size:
        out[short] = _crc0_aligned(a32, starts[short], starts[short] + lengths[short])
    if longs.any():
        big = np.flatnonzero(longs)
        out[big] = _crc0_long(a32, starts[big], lengths[big])
    out ^= _z_of(lengths)
    out[lengths == 0] = 0
    return (out & _MASK32).astype(np.uint32)


def _crc0_long(a32: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Raw zero-init CRC states of ranges longer than CHUNK: CRC the chunks in parallel, then
    combine them (Horner's rule with the 'feed CHUNK zero bytes' operator)."""
    nch = (lengths + CHUNK - 1) // CHUNK
    first = lengths - (nch - 1) * CHUNK  # 1..CHUNK bytes in the first (partial) chunk
    total = int(nch.sum())
    owner = np.repeat(np.arange(starts.size), nch)
    ordinal = np.arange(total) - np.repeat(np.cumsum(nch) - nch, nch)
    c_first = np.repeat(first, nch)
    c_start = np.repeat(starts, nch) + np.where(ordinal == 0, 0, c_first + (ordinal - 1) * CHUNK)
    c_len = np.where(ordinal == 0, c_first, CHUNK)
    c_state = _crc0_aligned(a32, c_start, c_start + c_len)
    tabs = _chunk_shift_tables(CHUNK)
    out = np.zeros(starts.size, dtype=np.int64)
    order = np.argsort(nch, kind="stable")
    nch_sorted = nch[order]
    lo = 0
    while lo < order.size:
        # Ranges whose chunk counts are within a factor of two share one right-aligned matrix.
        hi = max(lo + 1, int(np.searchsorted(nch_sorted, 2 * int(nch_sorted[lo]), side="left")))
        grp = order[lo:hi]
        width = int(nch[grp].max())
        slot = np.full(starts.size, -1, dtype=np.int64)
        slot[grp] = np.arange(grp.size)
        member = slot[owner] >= 0
        mat = np.zeros((grp.size, width), dtype=np.int64)
        mat[slot[owner[member]], width - nch[owner[member]] + ordinal[member]] = c_state[member]
        s = mat[:, 0].copy()
        for j in range(1, width):
            s = (
                tabs[0][s & 0xFF]
                ^ tabs[1][(s >> 8) & 0xFF]
                ^ tabs[2][(s >> 16) & 0xFF]
                ^ tabs[3][s >> 24]
            )
            s ^= mat[:, j]
        out[grp] = s
        lo = hi
    return out

"""TFRecord framing and CRC32C, vectorised with numpy (no TensorFlow, no C extension).

A TFRecord file is a sequence of records, each::

    uint64 length (little endian)
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

Everything here works on a whole file at once, held in one numpy ``uint8`` buffer.

CRC32C (:func:`crc32c_ranges`) of many byte ranges at once: the ranges of a block of 8192
advance in lockstep one aligned 32-bit word per numpy step, ``x = state ^ word;
state = TA[x & 0xffff] ^ TB[x >> 16]`` with two 64K-entry "slicing-by-4" tables.  CRC is
linear over GF(2), so a range is computed from a zero state (leading zero bytes then change
nothing, which lets every range start its first word masked and lets shorter ranges of a
block start later) and corrected by a constant that depends on its length only; the bytes
of the last word after the range's end are masked to zero and fed back out with the inverse
of the one-zero-byte step.  Ranges over 1 KiB are cut into chunks whose CRCs are combined
with the "feed 1 KiB of zeros" operator.  The length CRC of a header is a table lookup
(65536 precomputed lengths).

Framing (:func:`frame`): walking ``offset += 16 + length`` is sequential by nature, so the
walk is speculated instead.  Every position whose byte equals the first data byte of the
first records (0x09, the Event ``wall_time`` key, in practice) is a candidate record start;
candidates whose header is in bounds and whose length CRC checks are kept (two threads, one
per half of the file), and the chain ``start -> start + 16 + length`` through consecutive
candidates is the framing.  Where the chain breaks (a record with another first byte,
corruption, a truncated tail) a Python walker takes over until it meets the chain again, so
the Python work grows with the irregularities, not with the records.  A header whose length
CRC fails loses the framing: the walker resynchronises on the next offset whose length CRC
and data CRC both check.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

_POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected
_MASK_DELTA = 0xA282EAD8
HEADER = 12  # uint64 length + uint32 length crc
FOOTER = 4  # uint32 data crc
_MAX_RECORD = 1 << 31  # anything larger is treated as a corrupt length


# --------------------------------------------------------------------------- tables


@lru_cache(maxsize=1)
def _byte_tables() -> np.ndarray:
    """``T[k][b]``: the 8 slicing tables of CRC32C (``T[0]`` is the classic byte table)."""
    t0 = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t0 = np.where(t0 & 1, (t0 >> 1) ^ np.uint32(_POLY), t0 >> 1).astype(np.uint32)
    tabs = [t0]
    for _ in range(7):
        prev = tabs[-1]
        tabs.append((prev >> 8) ^ t0[prev & 0xFF])
    return np.stack(tabs)


@lru_cache(maxsize=1)
def _word_tables() -> tuple[np.ndarray, np.ndarray]:
    """Two 65536-entry tables: ``state' = TA[x & 0xffff] ^ TB[x >> 16]`` with ``x = state ^ word``.

    Kept as int64 so the gathered values can index the tables again without a cast.
    """
    t = _byte_tables()
    i = np.arange(65536)
    ta = (t[3][i & 0xFF] ^ t[2][i >> 8]).astype(np.int64)
    tb = (t[1][i & 0xFF] ^ t[0][i >> 8]).astype(np.int64)
    return ta, tb


@lru_cache(maxsize=1)
def _byte_list() -> list[int]:
    return [int(v) for v in _byte_tables()[0]]


def crc32c(data: bytes | bytearray | memoryview, state: int = 0) -> int:
    """CRC32C of one short byte string (pure Python; for headers and small slow paths).

    ``state`` is a previous result to continue from (``crc32c(a + b) == crc32c(b, crc32c(a))``).
    """
    t = _byte_list()
    crc = state ^ 0xFFFFFFFF
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc):
    """TFRecord's masked CRC: rotate right by 15 and add a constant (ints and arrays)."""
    if isinstance(crc, np.ndarray):
        c = crc.astype(np.int64) & 0xFFFFFFFF
        return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF
    crc &= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return mask_crc(crc32c(data))


# ------------------------------------------------------------ GF(2) zero operators


def _apply_cols(cols: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply the linear map whose images of the 32 basis bits are ``cols`` to ``v`` (uint64)."""
    out = np.zeros(v.shape, dtype=np.uint64)
    for bit in range(32):
        out ^= ((v >> np.uint64(bit)) & np.uint64(1)) * cols[bit]
    return out


@lru_cache(maxsize=1)
def _zero_powers() -> list[np.ndarray]:
    """``P[k]``: column images of the operator 'feed 2**k zero bytes' on a raw CRC state."""
    t0 = _byte_tables()[0].astype(np.uint64)
    e = np.uint64(1) << np.arange(32, dtype=np.uint64)
    one = t0[(e & np.uint64(0xFF)).astype(np.intp)] ^ (e >> np.uint64(8))
    powers = [one]
    for _ in range(40):
        powers.append(_apply_cols(powers[-1], powers[-1]))
    return powers


def _shift_zeros(state: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Raw CRC states after feeding ``nbytes`` zero bytes to each of ``state`` (vectorised)."""
    state = np.asarray(state, dtype=np.uint64).copy()
    rest = np.asarray(nbytes, dtype=np.int64).copy()
    powers = _zero_powers()
    k = 0
    while (rest > 0).any():
        sel = np.flatnonzero(rest & 1)
        if sel.size:
            state[sel] = _apply_cols(powers[k], state[sel])
        rest >>= 1
        k += 1
    return state


def _byte_op_tables(cols: np.ndarray) -> np.ndarray:
    """4 x 256 int64 tables applying a linear state map one byte of the state at a time."""
    v = np.arange(256, dtype=np.uint64)
    tabs = np.zeros((4, 256), dtype=np.uint64)
    for byte in range(4):
        for bit in range(8):
            tabs[byte] ^= ((v >> np.uint64(bit)) & np.uint64(1)) * cols[8 * byte + bit]
    return tabs.astype(np.int64)


@lru_cache(maxsize=8)
def _chunk_shift_tables(chunk: int) -> np.ndarray:
    cols = _shift_zeros(np.uint64(1) << np.arange(32, dtype=np.uint64), np.full(32, chunk))
    return _byte_op_tables(cols)


# ------------------------------------------------------------------ batched CRC32C

CHUNK = 1024  # ranges longer than this are cut into chunks whose CRCs are combined
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


@lru_cache(maxsize=1)
def _z_table() -> np.ndarray:
    """``Z[len]`` for len in 0..CHUNK (int64): one zero byte at a time, in plain Python."""
    t = _byte_list()
    z = [0] * (CHUNK + 1)
    st = 0xFFFFFFFF
    for n in range(CHUNK + 1):
        z[n] = st ^ 0xFFFFFFFF
        st = t[st & 0xFF] ^ (st >> 8)
    return np.array(z, dtype=np.int64)


def _z_of(lengths: np.ndarray) -> np.ndarray:
    """``Z[len] = ~(state after len zero bytes from 0xffffffff)`` for each length (int64)."""
    if lengths.size == 0 or int(lengths.max()) <= CHUNK:
        return _z_table()[lengths]
    uniq, inv = np.unique(lengths, return_inverse=True)
    st = _shift_zeros(np.full(uniq.size, 0xFFFFFFFF, dtype=np.uint64), uniq)
    return (st ^ np.uint64(0xFFFFFFFF)).astype(np.int64)[inv]


@lru_cache(maxsize=1)
def _header_table() -> np.ndarray:
    """Masked CRC of the 8-byte little-endian length header for every length < 65536."""
    lens = np.arange(65536, dtype=np.int64)
    ta, tb = _word_tables()
    # Two words: the low 32 bits of the length, then four zero bytes.
    crc = ta[lens & 0xFFFF] ^ tb[lens >> 16]
    crc = ta[crc & 0xFFFF] ^ tb[crc >> 16]
    crc ^= _z_table()[8]
    return mask_crc(crc).astype(np.int64)


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


# ------------------------------------------------------------------------- framing


@dataclass
class Framing:
    """Record boundaries found in a buffer.

    ``starts`` are absolute positions in the buffer of the record headers (file offset plus
    the buffer's ``base``), in file order; ``lengths`` are the data lengths.
    """

    starts: np.ndarray
    lengths: np.ndarray
    dropped: int = 0  # records lost to framing damage (one per resync)
    problems: list[tuple[str, int]] = field(default_factory=list)  # (message, records lost)
    truncated: bool = False  # the file ends inside a record
    lost_at: int | None = None  # file offset where framing was lost and never found again


def _u64_at(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    view = np.ndarray(shape=(buf.size - 7,), dtype="<u8", buffer=buf, strides=(1,))
    return view[pos]


def _u32_at(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    view = np.ndarray(shape=(buf.size - 3,), dtype="<u4", buffer=buf, strides=(1,))
    return view[pos]


def _check_headers(buf: np.ndarray, pos: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """For header positions ``pos`` (absolute, with ``pos + 16 <= end``): whether the length
    CRC checks and the whole record fits before ``end``; and the lengths."""
    lens = _u64_at(buf, pos)
    stored = _u32_at(buf, pos + 8).astype(np.int64)
    small = lens < 65536
    length = np.where(small, lens, 0).astype(np.int64)
    ok = small & (_header_table()[length] == stored)
    big = np.flatnonzero(~small & (lens < _MAX_RECORD))
    if big.size:
        length[big] = lens[big].astype(np.int64)
        crc = crc32c_ranges(buf, pos[big], np.full(big.size, 8))
        ok[big] = mask_crc(crc) == stored[big]
    ok &= pos + 16 + length <= end
    return ok, length


def _header_at(buf: np.ndarray, off: int, end: int) -> tuple[int | None, bool]:
    """(length, length CRC ok) of the header at absolute ``off``; (None, False) if incomplete."""
    if off + HEADER > end:
        return None, False
    raw = buf[off : off + 8].tobytes()
    stored = int.from_bytes(buf[off + 8 : off + 12].tobytes(), "little")
    return int.from_bytes(raw, "little"), masked_crc32c(raw) == stored


def data_crc_ok(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether the data CRC of each record (header at absolute ``starts``) checks."""
    crc = crc32c_ranges(buf, starts + HEADER, lengths)
    return mask_crc(crc) == _u32_at(buf, starts + HEADER + lengths).astype(np.int64)


def _resync(buf: np.ndarray, off: int, end: int) -> tuple[int | None, int]:
    """First absolute position after ``off`` holding a record whose length CRC and data CRC
    both check, scanning forward in growing windows; None if there is none.  Also returns
    how many framed records (length CRC right, data CRC wrong) were passed on the way."""
    window = 1 << 14
    lo = off + 1
    passed = 0
    while lo + 16 <= end:
        hi = min(end - 15, lo + window)
        pos = np.arange(lo, hi, dtype=np.int64)
        ok, length = _check_headers(buf, pos, end)
        hit = np.flatnonzero(ok)
        if hit.size:
            good = data_crc_ok(buf, pos[hit], length[hit])
            if good.any():
                first = int(np.argmax(good))
                return int(pos[hit[first]]), passed + first
            passed += int(hit.size)
        lo = hi
        window = min(window * 4, 1 << 22)
    return None, passed


def _markers(buf: np.ndarray, base: int, end: int) -> list[int]:
    """The first data bytes of the first two records (0x09, the wall_time key, in practice)."""
    markers = set()
    off = base
    for _ in range(2):
        length, ok = _header_at(buf, off, end)
        if length is None or not ok or length == 0 or off + 16 + length > end:
            break
        markers.add(int(buf[off + HEADER]))
        off += 16 + length
    return sorted(markers)


def _candidates(
    buf: np.ndarray, lo: int, hi: int, end: int, markers: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Record starts in ``[lo, hi)`` whose first data byte is a marker and whose header
    checks (length CRC, record inside the file); with their data lengths."""
    parts = []
    step = 1 << 22  # bounded temporaries (large ones are fresh mmaps: page faults)
    for a in range(lo, hi, step):
        b = min(hi, a + step)
        seg = buf[a + HEADER : b + HEADER]
        hit = (
            np.flatnonzero(seg == markers[0])
            if len(markers) == 1
            else np.flatnonzero(np.isin(seg, markers))
        )
        parts.append(hit + a)
    cand = (
        np.concatenate(parts)
        if len(parts) > 1
        else parts[0]
        if parts
        else np.zeros(0, dtype=np.int64)
    )
    if not cand.size:
        return cand, cand
    ok, lens = _check_headers(buf, cand, end)
    return cand[ok], lens[ok]


_PARALLEL_BYTES = 1 << 23  # files at least this big are framed by two threads


def frame(buf: np.ndarray, base: int, n: int, name: str = "") -> Framing:
    """Find the records of the ``n`` file bytes stored at ``buf[base : base + n]``.

    Length CRCs are checked here; data CRCs are left to :func:`data_crc_ok` (batched).
    """
    end = base + n
    fr = Framing(np.zeros(0, np.int64), np.zeros(0, np.int64))
    if n == 0:
        return fr
    markers = _markers(buf, base, end)
    hi = end - 16 + 1
    if not markers or hi <= base:
        cand = lens = np.zeros(0, dtype=np.int64)
    elif n < _PARALLEL_BYTES:
        cand, lens = _candidates(buf, base, hi, end, markers)
    else:  # numpy releases the GIL: scan the two halves of the file at once
        mid = (base + hi) // 2
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = pool.submit(_candidates, buf, mid, hi, end, markers)
            c1, l1 = _candidates(buf, base, mid, end, markers)
            c2, l2 = second.result()
        cand, lens = np.concatenate([c1, c2]), np.concatenate([l1, l2])
    nxt = cand + 16 + lens
    # Where the speculative chain breaks: i with nxt[i] != cand[i + 1].
    link = np.zeros(cand.size, dtype=bool)
    if cand.size > 1:
        link[:-1] = nxt[:-1] == cand[1:]
    breaks = np.flatnonzero(~link)

    starts_out: list[np.ndarray] = []
    lens_out: list[np.ndarray] = []
    slow_starts: list[int] = []
    slow_lens: list[int] = []

    def flush_slow() -> None:
        if slow_starts:
            starts_out.append(np.array(slow_starts, dtype=np.int64))
            lens_out.append(np.array(slow_lens, dtype=np.int64))
            slow_starts.clear()
            slow_lens.clear()

    def data_ok(at: int, length: int) -> bool:
        one = np.array([at], dtype=np.int64)
        return bool(data_crc_ok(buf, one, np.array([length], dtype=np.int64))[0])

    off = base
    while off < end:
        reason = "bad length checksum"
        k = int(np.searchsorted(cand, off))
        if k < cand.size and cand[k] == off:
            j = int(breaks[np.searchsorted(breaks, k)])
            flush_slow()
            # Where the chain breaks inside the file, the record's length may be bogus (its
            # length CRC checks, its data does not): then resynchronize from it instead of
            # jumping over the records its length swallowed.
            if int(nxt[j]) != end and not data_ok(int(cand[j]), int(lens[j])):
                if j > k:
                    starts_out.append(cand[k:j])
                    lens_out.append(lens[k:j])
                off = int(cand[j])
                reason = "its length does not match its data (bad data checksum)"
            else:
                starts_out.append(cand[k : j + 1])
                lens_out.append(lens[k : j + 1])
                off = int(nxt[j])
                continue
        else:
            length, ok = _header_at(buf, off, end)
            if length is None:
                fr.truncated = True
                break
            if ok and length < _MAX_RECORD:
                fits = off + 16 + length <= end
                if fits and (off + 16 + length == end or data_ok(off, length)):
                    slow_starts.append(off)
                    slow_lens.append(length)
                    off += 16 + length
                    continue
                reason = (
                    "its length does not match its data (bad data checksum)"
                    if fits
                    else "its length runs past the end of the file"
                )
        new, passed = _resync(buf, off, end)
        if new is None and reason == "its length runs past the end of the file":
            fr.truncated = True  # the last record is still being written
            break
        skipped = (end if new is None else new) - off
        # Records whose headers were destroyed cannot be counted; estimate them from the
        # typical record size (at least the damaged one, plus any framed ones passed).
        typical = 16 + (float(np.median(lens[:4096])) if lens.size else 0.0)
        lost = max(1 + passed, round(skipped / typical) if typical > 16 else 1)
        fr.dropped += lost
        if new is None:
            fr.lost_at = off - base
            fr.problems.append((
                f"{name}: record framing lost at byte {off - base} ({reason}) and not "
                f"found again; the last {skipped} bytes (about {lost} record(s)) were skipped",
                lost,
            ))
            break
        fr.problems.append((
            f"{name}: record framing lost at byte {off - base} ({reason}); skipped "
            f"{skipped} bytes (about {lost} record(s)) to the next valid record at byte {new - base}",
            lost,
        ))
        off = new
    flush_slow()
    if starts_out:
        fr.starts = np.concatenate(starts_out)
        fr.lengths = np.concatenate(lens_out)
    return fr


def load(path) -> tuple[np.ndarray, int, int]:
    """Read a whole file into a fresh 8-aligned uint8 buffer with zero padding after it.

    Returns (buffer, base, n): the file bytes are ``buffer[base : base + n]``.
    """
    import os

    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        base = 0
        buf = np.empty((size + 64) // 8 * 8, dtype=np.uint8)
        view = memoryview(buf)[base : base + size]
        got = 0
        while got < size:
            r = f.readinto(view[got:])
            if not r:
                break
            got += r
        buf[base + got :] = 0
    return buf, base, got

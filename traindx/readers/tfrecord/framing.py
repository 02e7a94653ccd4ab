"""TFRecord framing: record boundaries of a whole file, speculated and resynchronised."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from traindx.arrays import median
from traindx.readers.tfrecord.crc import _header_table, mask_crc, masked_crc32c
from traindx.readers.tfrecord.crc_ranges import crc32c_ranges

HEADER = 12  # uint64 length + uint32 length crc
FOOTER = 4  # uint32 data crc
_MAX_RECORD = 1 << 31  # anything larger is treated as a corrupt length


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
    #: (``final=False``) offset from ``base`` where framing was lost and no valid record
    #: follows in these bytes: read on from there once more of the file is at hand
    resume_at: int | None = None
    markers: list[int] = field(default_factory=list)  # the record-start bytes used


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


def frame(
    buf: np.ndarray,
    base: int,
    n: int,
    name: str = "",
    *,
    origin: int = 0,
    final: bool = True,
    markers: list[int] | None = None,
) -> Framing:
    """Find the records of the ``n`` file bytes stored at ``buf[base : base + n]``.

    Length CRCs are checked here; data CRCs are left to :func:`data_crc_ok` (batched).
    For a file read in pieces: ``origin`` is the file offset of ``buf[base]`` (messages
    name file offsets); ``final=False`` says more of the file follows, so framing lost and
    not found again before ``n`` is neither counted nor reported but left at
    ``resume_at`` for the next piece; ``markers`` are the record-start bytes an earlier
    piece found (a piece may begin with damaged bytes).
    """
    end = base + n
    fr = Framing(np.zeros(0, np.int64), np.zeros(0, np.int64))
    if n == 0:
        return fr
    markers = markers or _markers(buf, base, end)
    fr.markers = list(markers)
    hi = end - 16 + 1
    if not markers or hi <= base:
        cand = lens = np.zeros(0, dtype=np.int64)
    elif n < _PARALLEL_BYTES:
        cand, lens = _candidates(buf, base, hi, end, markers)
    else:  # numpy releases the GIL: scan the two halves of the file at once
        mid = (base + hi) // 2
        from concurrent.futures import ThreadPoolExecutor

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
        if new is None and not final:  # the next valid record may be in the next piece
            fr.resume_at = off - base
            break
        skipped = (end if new is None else new) - off
        # Records whose headers were destroyed cannot be counted; estimate them from the
        # typical record size (at least the damaged one, plus any framed ones passed).
        typical = 16 + (float(median(lens[:4096])) if lens.size else 0.0)
        lost = max(1 + passed, round(skipped / typical) if typical > 16 else 1)
        fr.dropped += lost
        if new is None:
            fr.lost_at = off - base
            fr.problems.append(
                (
                    f"{name}: record framing lost at byte {off - base + origin} ({reason}) and not "
                    f"found again; the last {skipped} bytes (about {lost} record(s)) were skipped",
                    lost,
                )
            )
            break
        fr.problems.append(
            (
                f"{name}: record framing lost at byte {off - base + origin} ({reason}); skipped "
                f"{skipped} bytes (about {lost} record(s)) to the next valid record at byte {new - base + origin}",
                lost,
            )
        )
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
        got = read_into(f, buf, base, size)
        buf[base + got :] = 0
    return buf, base, got


def read_into(f: io.RawIOBase | io.BufferedIOBase, buf: np.ndarray, at: int, want: int) -> int:
    """Read up to ``want`` bytes of ``f`` into ``buf[at:]`` (a uint8 array); fewer only at
    the end of the file. Returns how many were read."""
    view = buf.data[at : at + want]
    got = 0
    while got < want:
        r = f.readinto(view[got:])
        if not r:
            break
        got += r
    return got

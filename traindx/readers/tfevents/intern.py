"""Tag interning: byte strings hashed eight bytes at a time, checked byte for byte."""

from __future__ import annotations

import numpy as np

from traindx.arrays import unique

_K_MUL = 0x9E3779B97F4A7C15


def _mix(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    h = (h ^ w) * np.uint64(_K_MUL)
    return h ^ (h >> np.uint64(29))


def _intern(
    buf: np.ndarray, u64: np.ndarray, pos: np.ndarray, ln: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Intern byte strings ``buf[pos:pos+ln]``: (id per string, name per id).

    Each string is keyed by its length, its first and its last eight bytes and (for strings
    over 16 bytes) the whole words between, hashed to 64 bits; every string is then compared
    word for word with one representative of its hash, so a collision cannot merge tags.
    """
    n = pos.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    one = np.uint64(1)
    short = ln < 8
    first = u64[pos]
    last = u64[np.maximum(pos + ln - 8, 0)]
    if short.any():
        keep = (one << (np.minimum(ln, 7) * 8).astype(np.uint64)) - one
        first = np.where(short, first & keep, first)
        last = np.where(short, np.uint64(0), last)
    h = _mix(_mix(ln.astype(np.uint64) * np.uint64(_K_MUL), first), last)
    middles = []
    k = 1
    while True:
        need = (8 * k < ln - 8) & (8 * k + 8 <= ln)
        if not need.any():
            break
        if need.all():
            sel = None
            w = u64[pos + 8 * k]
            h = _mix(h, w)
        else:
            sel = np.flatnonzero(need)
            w = u64[pos[sel] + 8 * k]
            h[sel] = _mix(h[sel], w)
        middles.append((k, sel, w))
        k += 1
    ids, uniq = _lookup(h, _distinct(h))
    rep = np.empty(uniq.size, dtype=np.int64)
    rep[ids] = np.arange(n)
    same = (ln == ln[rep][ids]) & (first == first[rep][ids]) & (last == last[rep][ids])
    for k, sel, w in middles:
        rw = u64[pos[rep] + 8 * k]  # the representatives' word (same length: same words)
        if sel is None:
            same &= w == rw[ids]
        else:
            same[sel] &= w == rw[ids[sel]]
    if not same.all():  # a 64-bit hash collision: fall back to exact bytes for everything
        keys = [buf[p : p + k].tobytes() for p, k in zip(pos.tolist(), ln.tolist(), strict=True)]
        table: dict[bytes, int] = {}
        ids = np.array([table.setdefault(key, len(table)) for key in keys], dtype=np.int64)
        return ids, [key.decode("utf-8", "replace") for key in table]
    # Number ids by first appearance in the file, so that series come out in file order.
    first_pos = np.full(uniq.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_pos, ids, pos)
    perm = np.argsort(first_pos)
    if (perm != np.arange(perm.size)).any():
        remap = np.empty(perm.size, dtype=np.int64)
        remap[perm] = np.arange(perm.size)
        ids = remap[ids]
    pos_f, ln_f = pos[rep[perm]].tolist(), ln[rep[perm]].tolist()
    names = [
        buf[p : p + k].tobytes().decode("utf-8", "replace")
        for p, k in zip(pos_f, ln_f, strict=True)
    ]
    return ids, names


def _distinct(h: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``h``, found from a sample and completed as needed."""
    if h.size <= 65536:
        return unique(h)
    sample = unique(np.concatenate([h[:8192], h[:: max(1, h.size // 8192)]]))
    return sample


def _lookup(h: np.ndarray, uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each ``h`` in sorted ``uniq`` (growing ``uniq`` with values it lacks)."""
    while True:
        ids = _slot_lookup(h, uniq)
        if ids is None:
            ids = np.minimum(np.searchsorted(uniq, h), uniq.size - 1)
        miss = uniq[ids] != h
        if not miss.any():
            return ids, uniq
        uniq = unique(np.concatenate([uniq, h[miss]]))


def _slot_lookup(h: np.ndarray, uniq: np.ndarray) -> np.ndarray | None:
    """Map hashes to indices of ``uniq`` through a small collision-free slot table."""
    d = uniq.size
    if d > 4096:
        return None
    bits = max(4, int(d * 8 - 1).bit_length())
    mask = np.uint64((1 << bits) - 1)
    for shift in (0, 13, 27, 41, 50, 7, 33):
        sh = np.uint64(min(shift, 64 - bits))
        slots = ((uniq >> sh) & mask).astype(np.int64)
        if unique(slots).size == d:
            table = np.zeros(1 << bits, dtype=np.int64)
            table[slots] = np.arange(d)
            return table[((h >> sh) & mask).astype(np.int64)]
    return None

"""Vectorised protobuf field scanning: many messages advance through their fields in lockstep."""

from __future__ import annotations

import numpy as np

from traindx.readers import tfrecord as tfr


def _varint(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Varints at ``pos``: (value as int64 two's complement, byte count, malformed mask)."""
    b = buf[pos]
    val = b.astype(np.int64)
    nbytes = np.ones(pos.size, dtype=np.int64)
    bad = np.zeros(pos.size, dtype=bool)
    cur = np.flatnonzero(b >= 0x80)
    if cur.size:
        val[cur] &= 0x7F
        k = 1
        while cur.size:
            if k == 10:
                bad[cur] = True
                break
            bb = buf[pos[cur] + k].astype(np.int64)
            val[cur] |= (bb & 0x7F) << (7 * k)
            nbytes[cur] += 1
            cur = cur[bb >= 0x80]
            k += 1
    return val, nbytes, bad


class _Fields:
    """Every field of many messages: owner index, key, payload start, value/length."""

    __slots__ = ("msg", "key", "pos", "val")

    def __init__(self, msg, key, pos, val):
        self.msg, self.key, self.pos, self.val = msg, key, pos, val

    def pick(self, key: int):
        sel = np.flatnonzero(self.key == key)
        return self.msg[sel], self.pos[sel], self.val[sel]


_FIXED = np.array([0, 8, 0, -1, -1, 4, -1, -1], dtype=np.int64)  # payload size by wire type


_PY_AFTER, _PY_MAX = 16, 4  # lockstep rounds, then messages left, before Python takes over


def _py_varint(data: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return (v - (1 << 64) if v >= 1 << 63 else v), i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _scan_py(buf: np.ndarray, start: int, end: int) -> tuple[list[int], list[int], list[int]]:
    """:func:`_scan` of one message in plain Python: (keys, payload positions, values)."""
    data = buf[start:end].tobytes()
    keys, poss, vals = [], [], []
    i, n = 0, len(data)
    while i < n:
        key, i = _py_varint(data, i)
        wt = key & 7
        if key < 8:
            raise ValueError("field number 0")
        p = i
        if wt == 0:
            v, i = _py_varint(data, i)
        elif wt == 1 or wt == 5:
            v = 0
            i += 8 if wt == 1 else 4
        elif wt == 2:
            v, i = _py_varint(data, i)
            if v < 0:
                raise ValueError("negative length")
            p = i
            i += v
        else:
            raise ValueError(f"wire type {wt}")
        if i > n:
            raise ValueError("field past the end")
        keys.append(key)
        poss.append(start + p)
        vals.append(v)
    return keys, poss, vals


def _scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[_Fields, np.ndarray]:
    """Walk the fields of messages ``buf[starts[i]:ends[i]]`` in lockstep.

    Returns the fields (``val`` is the varint for wire type 0, the length for wire type 2;
    ``pos`` is where the payload starts) and a mask of malformed messages (their fields are
    left out).  Fields come grouped by their ordinal within the message, not by message.
    """
    m = starts.size
    bad = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    pos = starts
    end = ends
    live = pos < end
    if not live.all():
        idx, pos, end = idx[live], pos[live], end[live]
    parts: list[tuple] = []
    rounds = 0
    while idx.size:
        rounds += 1
        if rounds > _PY_AFTER and idx.size <= _PY_MAX:  # a few long messages: finish in Python
            for j, a, e in zip(idx.tolist(), pos.tolist(), end.tolist(), strict=True):
                try:
                    keys, poss, vals = _scan_py(buf, a, e)
                except (ValueError, IndexError):
                    bad[j] = True
                    continue
                parts.append(
                    (np.full(len(keys), j, dtype=np.int64), np.array(keys, dtype=np.int64),
                     np.array(poss, dtype=np.int64), np.array(vals, dtype=np.int64))
                )  # fmt: skip
            break
        key, nb, vbad = _varint(buf, pos)
        p1 = pos + nb
        wt = key & 7
        val = np.zeros(idx.size, dtype=np.int64)
        payload = p1
        newpos = p1 + _FIXED[wt]
        okw = _FIXED[wt] >= 0
        var = np.flatnonzero((wt == 0) | (wt == 2))
        if var.size:
            v, vn, vb = _varint(buf, p1[var])
            vbad[var] |= vb
            val[var] = v
            is_len = wt[var] == 2
            vbad[var] |= is_len & ((v < 0) | (v > tfr._MAX_RECORD))
            payload = p1.copy()
            payload[var] = np.where(is_len, p1[var] + vn, p1[var])
            newpos[var] = p1[var] + vn + np.where(is_len, v, 0)
        ok = okw & ~vbad & (newpos <= end) & (key >= 8)
        if not ok.all():
            bad[idx[~ok]] = True
            parts.append((idx[ok], key[ok], payload[ok], val[ok]))
            cont = ok & (newpos < end)
        else:
            parts.append((idx, key, payload, val))
            cont = newpos < end
        if cont.all():
            pos = newpos
        else:
            idx, pos, end = idx[cont], newpos[cont], end[cont]
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return _Fields(z, z, z, z), bad
    if len(parts) == 1:
        f = _Fields(*parts[0])
    else:
        f = _Fields(*(np.concatenate(col) for col in zip(*parts, strict=True)))
    if bad.any():
        keep = ~bad[f.msg]
        f = _Fields(f.msg[keep], f.key[keep], f.pos[keep], f.val[keep])
    return f, bad


class _Picked:
    """Fields of many messages parsed by :func:`_expect`: per key, (msg, pos, val) pieces."""

    __slots__ = ("got", "rest")

    def __init__(self, got: dict, rest: _Fields | None):
        self.got, self.rest = got, rest

    def pick(self, key: int):
        pieces = list(self.got.get(key, ()))
        if self.rest is not None:
            r = self.rest.pick(key)
            if r[0].size:
                pieces.append(r)
        if not pieces:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z
        if len(pieces) == 1:
            return pieces[0]
        return tuple(np.concatenate(c) for c in zip(*pieces, strict=True))


def _expect(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, keys: tuple[int, ...]
) -> tuple[_Picked, np.ndarray]:
    """Parse messages whose fields mostly come as ``keys`` in that order (as protobuf
    serializers write them: by field number), each at most once.

    Every message tries each expected key in turn at its current position (one numpy step
    per key for all messages); whatever is left afterwards (unexpected or repeated fields)
    goes through the generic :func:`_scan`.  Returns the fields and a malformed mask.
    """
    m = starts.size
    pos = starts.copy()
    bad = np.zeros(m, dtype=bool)
    got: dict[int, list] = {}
    for key in keys:
        wt = key & 7
        hit = buf[pos] == key
        hit &= pos < ends
        sel = np.flatnonzero(hit)
        if sel.size == 0:
            continue
        p1 = pos[sel] + 1
        if wt == 1 or wt == 5:
            payload, val = p1, None
            newp = p1 + (8 if wt == 1 else 4)
            vb = None
        else:
            val, nb, vb = _varint(buf, p1)
            if wt == 2:
                payload = p1 + nb
                newp = payload + val
                vb |= (val < 0) | (val > tfr._MAX_RECORD)
            else:
                payload = p1
                newp = p1 + nb
        ok = newp <= ends[sel]
        if vb is not None:
            ok &= ~vb
        if val is None:
            val = np.zeros(sel.size, dtype=np.int64)
        if ok.all():
            pos[sel] = newp
        else:
            bad[sel[~ok]] = True
            pos[sel] = np.where(ok, newp, ends[sel])  # stop parsing a malformed message
            sel, payload, val = sel[ok], payload[ok], val[ok]
        got[key] = [(sel, payload, val)]
    left = np.flatnonzero(pos < ends)
    rest = None
    if left.size:
        f, b2 = _scan(buf, pos[left], ends[left])
        bad[left[b2]] = True
        rest = _Fields(left[f.msg], f.key, f.pos, f.val)
    if bad.any():
        for key, pieces in got.items():
            got[key] = [(mm[~bad[mm]], pp[~bad[mm]], vv[~bad[mm]]) for mm, pp, vv in pieces]
        if rest is not None:
            keep = ~bad[rest.msg]
            rest = _Fields(rest.msg[keep], rest.key[keep], rest.pos[keep], rest.val[keep])
    return _Picked(got, rest), bad


def _repeated(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    key: int,
    bad: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All occurrences of length-delimited field ``key`` in each message (e.g. the values of
    a Summary): (msg, payload pos, length), not necessarily in message order. Messages whose
    fields stop parsing go to ``bad`` (the fields before the damage are kept)."""
    bad = [] if bad is None else bad
    msgs, poss, lens = [], [], []
    idx = np.flatnonzero(starts < ends)
    pos, end = starts[idx], ends[idx]
    rounds = 0
    while idx.size:
        rounds += 1
        if rounds > _PY_AFTER and idx.size <= _PY_MAX:  # a few long messages: finish in Python
            f, fbad = _scan(buf, pos, end)
            bad.append(idx[fbad])
            mm, pp, vv = f.pick(key)
            msgs.append(idx[mm])
            poss.append(pp)
            lens.append(vv)
            break
        hit = buf[pos] == key
        if not hit.all():
            other = np.flatnonzero(~hit)
            f, fbad = _scan(buf, pos[other], end[other])
            bad.append(idx[other][fbad])
            mm, pp, vv = f.pick(key)
            msgs.append(idx[other][mm])
            poss.append(pp)
            lens.append(vv)
            keep = np.flatnonzero(hit)
            idx, pos, end = idx[keep], pos[keep], end[keep]
            if not idx.size:
                break
        ln, nb, vb = _varint(buf, pos + 1)
        payload = pos + 1 + nb
        newp = payload + ln
        ok = ~vb & (ln >= 0) & (newp <= end)
        if not ok.all():
            bad.append(idx[~ok])
            idx, pos, end, ln, payload, newp = (a[ok] for a in (idx, pos, end, ln, payload, newp))
        msgs.append(idx)
        poss.append(payload)
        lens.append(ln)
        cont = newp < end
        if cont.all():
            pos = newp
        else:
            idx, pos, end = idx[cont], newp[cont], end[cont]
    if not msgs:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    if len(msgs) == 1:
        return msgs[0], poss[0], lens[0]
    return np.concatenate(msgs), np.concatenate(poss), np.concatenate(lens)

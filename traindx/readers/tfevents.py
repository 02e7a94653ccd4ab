"""TensorBoard event files (``events.out.tfevents.*``) without TensorFlow or protobuf.

An event file is a TFRecord file (see :mod:`traindx.readers.tfrecord`) whose records are
serialized ``tensorflow.Event`` protos.  This reader decodes the few fields it needs by hand:

    Event:          wall_time=1 (double), step=2 (int64), summary=5 (Summary)
    Summary:        value=1 (repeated Value)
    Value:          tag=1, simple_value=2 (float), histo=5 (HistogramProto),
                    tensor=8 (TensorProto), metadata=9 (SummaryMetadata)
    HistogramProto: min=1 max=2 num=3 sum=4 sum_squares=5 (doubles)
    TensorProto:    dtype=1, tensor_shape=2, tensor_content=4, float_val=5, double_val=6,
                    int_val=7, int64_val=10, bool_val=11, half_val=13
    SummaryMetadata.plugin_data=1 -> PluginData.plugin_name=1

Unknown fields are skipped by wire type.  Decoding is vectorised over the whole file, in
two tiers:

* Compiled layouts.  Most records of a file share a few byte layouts (same fields, same
  lengths; only payload bytes differ).  One record of each common length is parsed in
  Python into a layout: the bytes that steer the parse become checks, the payloads fixed
  offsets.  All records of that length are checked against it at once and decoded by
  gathers at those offsets.  This covers tensorboardX / torch ``simple_value`` scalars,
  TF1 multi-value summaries and TF2 / Keras rank-0 tensor scalars.
* The generic decoder, for everything else: all records (then all summaries, all values,
  all tensors) advance through their fields in lockstep, one field per numpy step, with
  vectorised varint decoding and wire-type dispatch by masks; repeated values in a summary
  are handled by looping while any message still has bytes left.

Tags are interned by hashing their bytes eight at a time and checking every tag byte for
byte against one representative of its hash, so no Python string is made per record.  Only
TF2 histogram tensors (k x 3 ``[left, right, count]``) are decoded one by one.  The data
CRCs are checked in a second thread while the records are decoded.

Speed: see :func:`read_event_file` for what was measured.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from traindx.errors import ReadError
from traindx.readers import tfrecord as tfr
from traindx.readers.raw import RawHistogram, RawLog, RawSeries

# Field keys (field_number << 3 | wire_type) of what we read.
_EV_WALL, _EV_STEP, _EV_SUMMARY = 0x09, 0x10, 0x2A
_SUM_VALUE = 0x0A
_VAL_TAG, _VAL_SIMPLE, _VAL_HISTO, _VAL_TENSOR, _VAL_META = 0x0A, 0x15, 0x2A, 0x42, 0x4A
_TEN_DTYPE, _TEN_SHAPE, _TEN_CONTENT = 0x08, 0x12, 0x22
_SHAPE_DIM, _DIM_SIZE = 0x12, 0x08
# Repeated numeric value fields of TensorProto: float 5, double 6, int 7, int64 10,
# half 13, uint32 16, uint64 17 (bool 11 is not a metric).
_TEN_VAL_FIELDS = (5, 6, 7, 10, 13, 16, 17)

# DataType enum -> (numpy dtype of tensor_content, itemsize) for numeric scalars.
_DT = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "i1",  # DT_INT8
    9: "<i8",  # DT_INT64
    14: "bf16",  # DT_BFLOAT16
    17: "<u2",  # DT_UINT16
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}
_DT_SIZE = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 14: 2, 17: 2, 19: 2, 22: 4, 23: 8}
# Elements a tensor may hold per byte of its proto (repeated-last-value filling included).
_MAX_FILL_PER_BYTE = 8
# Plugins whose single-element tensors are not metrics.
_NOT_SCALAR_PLUGINS = {
    "histograms", "images", "audio", "text", "hparams", "pr_curves", "mesh",
    "graph_keras_model", "graph_run_metadata", "graph_run_metadata_graph", "custom_scalars",
    "projector",
}  # fmt: skip


def is_event_file(path: str | Path) -> bool:
    """Whether ``path`` is named like a TensorBoard event file."""
    return "tfevents" in Path(path).name


# ------------------------------------------------------------------ wire decoding


def _views(buf: np.ndarray) -> dict[str, np.ndarray]:
    """Unaligned little-endian views of ``buf`` at every byte offset, by dtype."""
    out = {}
    for dt in ("<f4", "<f8", "<i8", "<u4", "<i4", "<u2", "<i2", "<f2", "<u8"):
        size = np.dtype(dt).itemsize
        out[dt] = np.ndarray(shape=(buf.size - size + 1,), dtype=dt, buffer=buf, strides=(1,))
    return out


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
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, key: int,
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


# ------------------------------------------------------------------ tag interning

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
        return np.unique(h)
    sample = np.unique(np.concatenate([h[:8192], h[:: max(1, h.size // 8192)]]))
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
        uniq = np.union1d(uniq, np.unique(h[miss]))


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
        if np.unique(slots).size == d:
            table = np.zeros(1 << bits, dtype=np.int64)
            table[slots] = np.arange(d)
            return table[((h >> sh) & mask).astype(np.int64)]
    return None


# ------------------------------------------------------------------ slow paths


def _iter_fields(data: bytes, start: int = 0, end: int | None = None):
    """Pure-Python protobuf field iterator: yields (field, wire_type, value or (start, end))."""
    end = len(data) if end is None else end
    i = start
    while i < end:
        key = 0
        shift = 0
        while True:
            b = data[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        field, wt = key >> 3, key & 7
        if wt == 0:
            v = 0
            shift = 0
            while True:
                b = data[i]
                i += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            yield field, wt, v
        elif wt == 1:
            yield field, wt, (i, i + 8)
            i += 8
        elif wt == 5:
            yield field, wt, (i, i + 4)
            i += 4
        elif wt == 2:
            ln = 0
            shift = 0
            while True:
                b = data[i]
                i += 1
                ln |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            yield field, wt, (i, i + ln)
            i += ln
        else:
            raise ValueError(f"wire type {wt}")


def _packed_varints(data: bytes, a: int, b: int) -> list[int]:
    out = []
    i = a
    while i < b:
        v = 0
        shift = 0
        while True:
            c = data[i]
            i += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                break
        out.append(v)
    return out


def _tensor_values(data: bytes) -> tuple[int, list[int], np.ndarray]:
    """Decode a TensorProto fully: (dtype, shape, float64 values)."""
    dtype = 0
    shape: list[int] = []
    content = None
    vals: list[float] = []
    for f, wt, v in _iter_fields(data):
        if f == 1 and wt == 0:
            dtype = v
        elif f == 2 and wt == 2:
            for f2, w2, v2 in _iter_fields(data, *v):
                if f2 == 2 and w2 == 2:
                    size = 0
                    for f3, w3, v3 in _iter_fields(data, *v2):
                        if f3 == 1 and w3 == 0:
                            size = v3 - (1 << 64) if v3 >= 1 << 63 else v3
                    shape.append(size)
        elif f == 4 and wt == 2:
            content = data[v[0] : v[1]]
        elif f == 5:
            a, b = v
            vals.extend(np.frombuffer(data[a:b], "<f4").tolist())
        elif f == 6:
            a, b = v
            vals.extend(np.frombuffer(data[a:b], "<f8").tolist())
        elif f in (7, 10, 16, 17):
            if wt == 0:
                vals.append(v - (1 << 64) if v >= 1 << 63 else v)
            elif wt == 2:
                vals.extend(x - (1 << 64) if x >= 1 << 63 else x for x in _packed_varints(data, *v))
        elif f == 13:
            bits = [v] if wt == 0 else _packed_varints(data, *v) if wt == 2 else []
            arr = np.array(bits, dtype=np.uint32)
            if dtype == 14:
                vals.extend((arr << 16).view(np.float32).astype(np.float64).tolist())
            else:
                vals.extend(arr.astype(np.uint16).view(np.float16).astype(np.float64).tolist())
    if any(d < 0 for d in shape):
        raise ValueError("negative dimension")
    numel = math.prod(shape)
    # TensorFlow repeats the last value to fill a shape; a crafted shape must not make us
    # allocate more than the bytes present could describe.
    if numel > _MAX_FILL_PER_BYTE * max(len(data), 1):
        raise ValueError(f"shape {shape} holds more elements than the tensor's bytes")
    if content is not None and dtype in _DT:
        if dtype == 14:
            raw = np.frombuffer(content[: len(content) // 2 * 2], "<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32).astype(np.float64)
        else:
            arr = np.frombuffer(
                content[: len(content) // _DT_SIZE[dtype] * _DT_SIZE[dtype]], _DT[dtype]
            ).astype(np.float64)
    else:
        arr = np.array(vals, dtype=np.float64)
        if arr.size < numel:  # TensorFlow repeats the last value (zeros when there is none)
            fill = arr[-1] if arr.size else 0.0
            arr = np.concatenate([arr, np.full(numel - arr.size, fill)])
    return dtype, shape, arr[:numel]


def _histogram_tensor_stats(data: bytes) -> np.ndarray | None:
    """Stats (count, sum, sumsq, min, max) of a TF2 histogram tensor [[left, right, count]]."""
    try:
        _dtype, shape, arr = _tensor_values(data)
    except (ValueError, IndexError):
        return None
    if len(shape) != 2 or shape[1] != 3 or arr.size != shape[0] * 3:
        return None
    if shape[0] == 0:
        return np.array([0.0, 0.0, 0.0, np.nan, np.nan])
    t = arr.reshape(-1, 3)
    left, right, cnt = t[:, 0], t[:, 1], t[:, 2]
    count = float(cnt.sum())
    centre = (left + right) / 2
    nz = np.flatnonzero(cnt > 0)
    if nz.size == 0:
        return np.array([count, 0.0, 0.0, np.nan, np.nan])
    return np.array(
        [
            count,
            float((cnt * centre).sum()),
            float((cnt * centre * centre).sum()),
            float(left[nz[0]]),
            float(right[nz[-1]]),
        ]
    )


# ------------------------------------------------------------------ compiled layouts
#
# Most records of a file share a handful of byte layouts: the same fields in the same order
# with the same lengths, differing only in payload bytes (wall time, step bits, tag bytes,
# the float).  A layout is derived from one record by a pure-Python parse ("compiled"): the
# bytes that decide how the record parses (keys, lengths, varint continuation bits, dtype,
# metadata) become checks, the payloads become fixed offsets.  Every record of the same
# length is then checked against the layout and, where it matches, decoded by gathering at
# those offsets -- exact, because a protobuf parse depends on nothing but the checked bytes.
# Records in blocks, so that the bytes of a block stay in cache across the gathers.

_MIN_GROUP = 48  # fewer records of one length go straight to the generic decoder
_LAYOUT_TRIES = 12  # layouts tried per record length
_BLOCK = 16384


class _Unsupported(Exception):
    pass


class _Layout:
    """What one record's bytes say about every record that parses the same way."""

    __slots__ = ("length", "words", "bytes1", "wall", "step", "values")

    def __init__(self, length, checks, wall, step, values):
        self.length = length
        self.wall = wall  # offset of the wall_time double, or None
        self.step = step  # (offset, nbytes) of the step varint, or None
        # (payload offset, tag offset, tag length, kind, payload, dtype, plugin); kind 0 is a
        # simple_value float at ``payload``, kind 1 a tensor_content scalar of ``dtype``.
        self.values = values
        # Checks grouped into 8-byte little-endian windows where at least four bytes are
        # checked (one unaligned 64-bit gather), single bytes otherwise.
        self.words: list[tuple[int, int, int]] = []
        self.bytes1: list[tuple[int, int, int]] = []
        offs = sorted(checks)
        i = 0
        while i < len(offs):
            o = offs[i]
            j = i
            while j < len(offs) and offs[j] < o + 8:
                j += 1
            if j - i >= 4:
                mask = val = 0
                for off in offs[i:j]:
                    m, v = checks[off]
                    mask |= m << (8 * (off - o))
                    val |= v << (8 * (off - o))
                self.words.append((o, mask, val))
            else:
                for off in offs[i:j]:
                    self.bytes1.append((off, *checks[off]))
            i = j


def _compile_layout(data: bytes) -> _Layout:
    """Derive the layout of one Event record (``data`` is its payload)."""
    checks: dict[int, tuple[int, int]] = {}

    def varint(i: int, structural: bool) -> tuple[int, int]:
        v = shift = 0
        while True:
            b = data[i]
            checks[i] = (0xFF, b) if structural else (0x80, b & 0x80)
            v |= (b & 0x7F) << shift
            shift += 7
            i += 1
            if b < 0x80:
                return v, i
            if shift > 63:
                raise _Unsupported

    def fixed_all(a: int, b: int) -> None:
        for k in range(a, b):
            checks[k] = (0xFF, data[k])

    wall = step = None
    values = []
    n = len(data)
    i = 0
    while i < n:
        key, i = varint(i, True)
        if key == _EV_WALL and wall is None:
            wall, i = i, i + 8
        elif key == _EV_STEP and step is None:
            s0 = i
            _, i = varint(i, False)
            step = (s0, i - s0)
        elif key == _EV_SUMMARY:
            ln, i = varint(i, True)
            end = i + ln
            while i < end:
                k2, i = varint(i, True)
                if k2 != _SUM_VALUE:
                    raise _Unsupported
                ln2, i = varint(i, True)
                values.append(_compile_value(data, i, i + ln2, varint, fixed_all))
                i += ln2
            if i != end:
                raise _Unsupported
        else:
            raise _Unsupported
    if i != n or not values:
        raise _Unsupported
    return _Layout(n, checks, wall, step, values)


def _compile_value(data: bytes, i: int, end: int, varint, fixed_all) -> tuple:
    start = i
    tag = (0, 0)
    kind = payload = dtype = None
    plugin = None
    while i < end:
        key, i = varint(i, True)
        if key == _VAL_TAG:
            ln, i = varint(i, True)
            tag = (i, ln)
            i += ln
        elif key == _VAL_SIMPLE and kind is None:
            kind, payload = 0, i
            i += 4
        elif key == _VAL_TENSOR and kind is None:
            ln, i = varint(i, True)
            tend = i + ln
            while i < tend:
                k3, i = varint(i, True)
                if k3 == _TEN_DTYPE:
                    dtype, i = varint(i, True)
                elif k3 == _TEN_SHAPE:
                    ln3, i = varint(i, True)
                    fixed_all(i, i + ln3)  # the whole shape: every dim of size 1 (checked below)
                    for f, wt, v in _iter_fields(data, i, i + ln3):
                        if f != 2 or wt != 2:
                            raise _Unsupported
                        for f2, w2, v2 in _iter_fields(data, *v):
                            if f2 == 1 and (w2 != 0 or v2 != 1):
                                raise _Unsupported
                    i += ln3
                elif k3 == _TEN_CONTENT:
                    ln3, i = varint(i, True)
                    if dtype not in _DT_SIZE or ln3 != _DT_SIZE[dtype]:
                        raise _Unsupported
                    kind, payload = 1, i
                    i += ln3
                else:
                    raise _Unsupported
            if kind != 1 or i != tend:
                raise _Unsupported
        elif key == _VAL_META:
            ln, i = varint(i, True)
            fixed_all(i, i + ln)
            plugin = ""
            for f, wt, v in _iter_fields(data, i, i + ln):
                if f == 1 and wt == 2:
                    for f2, w2, v2 in _iter_fields(data, *v):
                        if f2 == 1 and w2 == 2:
                            plugin = data[v2[0] : v2[1]].decode("utf-8", "replace")
            i += ln
        else:
            raise _Unsupported
    if kind is None or i != end:
        raise _Unsupported
    return (start, tag[0], tag[1], kind, payload, dtype, plugin)


def _match(buf: np.ndarray, views: dict, ds: np.ndarray, lay: _Layout) -> np.ndarray:
    """Which records (data starts ``ds``, all of the layout's length) parse as ``lay``."""
    ok = np.ones(ds.size, dtype=bool)
    u64 = views["<u8"]
    for off, mask, val in lay.words:
        ok &= (u64[ds + off] & np.uint64(mask)) == np.uint64(val)
    for off, mask, val in lay.bytes1:
        b = buf[ds + off]
        ok &= (b if mask == 0xFF else b & mask) == val
    return ok


class _Out:
    """Columns decoded so far, one entry per summary value."""

    def __init__(self):
        self.v_rec: list[np.ndarray] = []  # record of each value
        self.v_step: list[np.ndarray] = []  # its event's step and wall time
        self.v_wall: list[np.ndarray] = []
        self.v_pos: list[np.ndarray] = []  # file position of each value (orders them)
        self.tag_pos: list[np.ndarray] = []
        self.tag_len: list[np.ndarray] = []
        self.nval = 0
        self.sc_vi: list[np.ndarray] = []  # scalars: value index, value, from a tensor?
        self.sc_val: list[np.ndarray] = []
        self.sc_tensor: list[bool] = []
        self.plugin_vi: list[np.ndarray] = []  # values whose metadata names a plugin
        self.plugin_name: list[str] = []
        self.meta: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # generic: (vi, pos, len)
        self.tensors: list[
            tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = []  # generic: (vi, pos, len)
        self.hist_vi: list[np.ndarray] = []
        self.hist_stats: list[np.ndarray] = []
        # Records (one entry per summary value) holding a value that does not decode.
        self.bad_rec: list[np.ndarray] = []

    def add_values(self, rec, step, wall, pos, tag_pos, tag_len) -> np.ndarray:
        vi = np.arange(self.nval, self.nval + rec.size)
        self.nval += rec.size
        self.v_rec.append(rec)
        self.v_step.append(step)
        self.v_wall.append(wall)
        self.v_pos.append(pos)
        self.tag_pos.append(tag_pos)
        self.tag_len.append(tag_len)
        return vi


def _decode_layout(
    buf: np.ndarray, views: dict, ds: np.ndarray, rec: np.ndarray, lay: _Layout, out: _Out
) -> None:
    """Decode records ``rec`` (data starts ``ds``) that match ``lay``."""
    if lay.wall is not None:
        wall = views["<f8"][ds + lay.wall]
    else:
        wall = np.zeros(rec.size, dtype=np.float64)
    if lay.step is not None:
        off, nb = lay.step
        step = buf[ds + off].astype(np.int64) & 0x7F
        for k in range(1, nb):
            step |= (buf[ds + off + k].astype(np.int64) & 0x7F) << (7 * k)
    else:
        step = np.zeros(rec.size, dtype=np.int64)
    for start, toff, tlen, kind, payload, dtype, plugin in lay.values:
        vi = out.add_values(
            rec, step, wall, ds + start, ds + toff, np.full(rec.size, tlen, dtype=np.int64)
        )
        if kind == 0:
            val = views["<f4"][ds + payload].astype(np.float64)
        else:
            val = _read_num(buf, views, ds + payload, dtype)
        out.sc_vi.append(vi)
        out.sc_val.append(val)
        out.sc_tensor.append(kind == 1)
        if plugin is not None:
            out.plugin_vi.append(vi)
            out.plugin_name.append(plugin)


def _decode_layouts(
    buf: np.ndarray, views: dict, ds: np.ndarray, lengths: np.ndarray, out: _Out
) -> np.ndarray:
    """Decode every record that shares a layout with enough others; returns the rest."""
    n = ds.size
    small = lengths < 65536
    counts = np.bincount(np.where(small, lengths, 0), minlength=1)
    counts[0] = 0
    common = np.flatnonzero(counts >= _MIN_GROUP)
    if common.size == 0:
        return np.arange(n)
    if common.size <= 8:
        groups = [np.flatnonzero(lengths == ln) for ln in common.tolist()]
    else:
        order = np.argsort(np.where(small, lengths, 0).astype(np.uint16), kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        groups = [order[bounds[ln] : bounds[ln + 1]] for ln in common.tolist()]
    done = np.zeros(n, dtype=bool)
    raw = buf.data
    for members in groups:
        rest = members
        for _ in range(_LAYOUT_TRIES):
            if rest.size < _MIN_GROUP:
                break
            first = int(ds[rest[0]])
            try:
                lay = _compile_layout(bytes(raw[first : first + int(lengths[rest[0]])]))
            except (_Unsupported, IndexError, ValueError):
                rest = rest[1:]  # the generic decoder will take that one
                continue
            keep = []
            for b0 in range(0, rest.size, _BLOCK):
                blk = rest[b0 : b0 + _BLOCK]
                d = ds[blk]
                ok = _match(buf, views, d, lay)
                if ok.all():
                    _decode_layout(buf, views, d, blk, lay, out)
                    done[blk] = True
                else:
                    hit = np.flatnonzero(ok)
                    if hit.size:
                        _decode_layout(buf, views, d[hit], blk[hit], lay, out)
                        done[blk[hit]] = True
                    keep.append(blk[~ok])
            rest = np.concatenate(keep) if keep else rest[:0]
            if not rest.size:
                break
    return np.flatnonzero(~done)


# ------------------------------------------------------------------ the reader


def read_event_file(path: str | Path) -> RawLog:
    """Read every scalar and histogram of one TensorBoard event file.

    Scalars come from ``simple_value`` (TF1, tensorboardX, torch) and from single-element
    numeric tensors (TF2 ``tf.summary.scalar``, Keras); histograms from ``HistogramProto``
    and from TF2 histogram tensors.  Records with a bad data CRC are skipped and counted in
    ``dropped_records``; lost framing is resynchronised; a truncated last record (a file
    still being written) ends the read cleanly with a note in ``problems``.

    The data CRCs are checked in a second thread while the records are decoded (numpy
    releases the GIL), and records that fail are dropped from the result afterwards.

    Measured on the 2-core development VM (``python benchmarks/ingest.py``, the VM shared
    with other jobs, load average 2-3): a 54 MB tensorboardX file of 1,000,000 scalars
    (10 tags) reads in 0.58 s with both CRCs checked on every record (about 0.6 s of CPU
    over two threads); TensorBoard's ``EventAccumulator`` takes 30 s on it (52x), tbparse
    24 s, TensorBoard's Rust data server 1.4 s with ``--checksum`` (2.4x).  A TF2 file of
    1,000,000 tensor scalars (80 MB) reads in about 1.1 s, 1,000 tags x 1,000 steps in 0.66 s.
    """
    name = str(path)
    try:
        buf, base, n = tfr.load(path)
    except FileNotFoundError:
        raise ReadError(name, "no such file; expected a TensorBoard event file") from None
    except IsADirectoryError:
        raise ReadError(name, "is a directory; expected a TensorBoard event file") from None
    except OSError as e:
        raise ReadError(
            name, f"cannot read ({e.strerror or e}); expected a readable TensorBoard event file"
        ) from None
    log = RawLog(path=name)
    if n == 0:
        return log
    fr = tfr.frame(buf, base, n, name)
    if fr.starts.size == 0 and fr.lost_at == 0:
        raise ReadError(
            name,
            "not a TFRecord file (the first record's length checksum fails and no valid record "
            "follows); expected a TensorBoard event file (events.out.tfevents.*)",
        )
    for msg, count in fr.problems:
        log.problem("corrupt", msg, count)
    log.dropped_records += fr.dropped
    starts, lengths = fr.starts, fr.lengths
    if starts.size:
        if starts.size >= _PARALLEL_MIN:
            with ThreadPoolExecutor(max_workers=1) as pool:
                crc = pool.submit(tfr.data_crc_ok, buf, starts, lengths)
                with _quiet():
                    out, malformed = _decode(buf, starts + tfr.HEADER, lengths)
                ok = crc.result()
        else:
            ok = tfr.data_crc_ok(buf, starts, lengths)
            with _quiet():
                out, malformed = _decode(buf, starts + tfr.HEADER, lengths)
        if not ok.all():
            badpos = starts[~ok]
            log.dropped_records += int(badpos.size)
            log.problem(
                "corrupt",
                f"{name}: {badpos.size} record(s) failed the data checksum and were skipped "
                f"(first at byte {int(badpos[0]) - base})",
                int(badpos.size),
            )
        malformed &= ok
        if malformed.any():
            k = int(malformed.sum())
            log.dropped_records += k
            log.problem(
                "corrupt",
                f"{name}: {k} record(s) are not valid Event protos and were skipped "
                f"(first at byte {int(starts[np.argmax(malformed)]) - base})",
                k,
            )
        log.records = int(ok.sum())
        with _quiet():
            _assemble(buf, out, ok & ~malformed, log, name)
    if fr.truncated:
        log.problem("incomplete", f"{name}: the last record is incomplete (file still being written?); not read")
    return log


# Logged floats are whatever was written: a signalling NaN cast to float64 is a NaN value,
# not a reason for numpy to warn.
def _quiet() -> np.errstate:
    return np.errstate(invalid="ignore", over="ignore")


_PARALLEL_MIN = 20000  # records; below this a second thread is not worth starting


def _decode(buf: np.ndarray, ds: np.ndarray, lengths: np.ndarray) -> tuple[_Out, np.ndarray]:
    """Decode all records (data at ``ds``): compiled layouts first, the generic decoder for
    the rest.  Returns the columns and a mask of records that are not valid Events."""
    views = _views(buf)
    out = _Out()
    rest = _decode_layouts(buf, views, ds, lengths, out)
    malformed = np.zeros(ds.size, dtype=bool)
    if rest.size:
        malformed[rest] = _decode_generic(buf, views, ds[rest], lengths[rest], rest, out)
    return out, malformed


def _decode_generic(
    buf: np.ndarray, views: dict, ds: np.ndarray, lengths: np.ndarray, rec_of: np.ndarray, out: _Out
) -> np.ndarray:
    """Field-by-field lockstep decoding of any Event records (``rec_of``: their indices)."""
    ev, ev_bad = _expect(buf, ds, ds + lengths, (_EV_WALL, _EV_STEP, _EV_SUMMARY))
    wall = np.zeros(ds.size, dtype=np.float64)
    step = np.zeros(ds.size, dtype=np.int64)
    m, p, _v = ev.pick(_EV_WALL)
    wall[m] = views["<f8"][p]
    m, _p, v = ev.pick(_EV_STEP)
    step[m] = v
    s_rec, s_pos, s_len = ev.pick(_EV_SUMMARY)
    if s_rec.size == 0:
        return ev_bad
    broken: list[np.ndarray] = []
    vm, v_pos, v_len = _repeated(buf, s_pos, s_pos + s_len, _SUM_VALUE, broken)
    out.bad_rec.extend(rec_of[s_rec[b]] for b in broken)
    if vm.size == 0:
        return ev_bad
    vf, v_bad = _expect(
        buf, v_pos, v_pos + v_len, (_VAL_TAG, _VAL_SIMPLE, _VAL_HISTO, _VAL_TENSOR, _VAL_META)
    )
    out.bad_rec.append(rec_of[s_rec[vm[v_bad]]])
    nval = vm.size
    tag_pos = np.zeros(nval, dtype=np.int64)
    tag_len = np.zeros(nval, dtype=np.int64)
    m, p, v = vf.pick(_VAL_TAG)
    tag_pos[m], tag_len[m] = p, v
    r = s_rec[vm]
    vi = out.add_values(rec_of[r], step[r], wall[r], v_pos, tag_pos, tag_len)
    m, p, _v = vf.pick(_VAL_SIMPLE)
    if m.size:
        out.sc_vi.append(vi[m])
        out.sc_val.append(views["<f4"][p].astype(np.float64))
        out.sc_tensor.append(False)
    m, p, ln = vf.pick(_VAL_META)
    if m.size:
        out.meta.append((vi[m], p, ln))
    m, p, ln = vf.pick(_VAL_TENSOR)
    if m.size:
        out.tensors.append((vi[m], p, ln))
    hm, hp, hl = vf.pick(_VAL_HISTO)
    if hm.size:
        hf, _ = _expect(buf, hp, hp + hl, (0x09, 0x11, 0x19, 0x21, 0x29))
        stats = np.zeros((hm.size, 5), dtype=np.float64)
        # min=1 max=2 num=3 sum=4 sum_squares=5 -> columns count, sum, sumsq, min, max
        for key, col in ((0x09, 3), (0x11, 4), (0x19, 0), (0x21, 1), (0x29, 2)):
            m2, p2, _ = hf.pick(key)
            stats[m2, col] = views["<f8"][p2]
        out.hist_vi.append(vi[hm])
        out.hist_stats.append(stats)
    return ev_bad


def _cat(parts: list[np.ndarray], dtype=np.int64) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _assemble(buf: np.ndarray, out: _Out, rec_ok: np.ndarray, log: RawLog, name: str) -> None:
    """Intern tags, classify tensors by plugin, drop bad records and build the series."""
    bad = _cat(out.bad_rec)
    undecoded = int(rec_ok[bad].sum()) if bad.size else 0
    if out.nval == 0:
        _count_undecoded(log, name, undecoded)
        return
    views = _views(buf)
    v_rec = _cat(out.v_rec)
    v_pos = _cat(out.v_pos)
    tag_id, tag_names = _intern(buf, views["<u8"], _cat(out.tag_pos), _cat(out.tag_len))
    ntags = len(tag_names)
    # Plugin of each tag: from any of its values that carries metadata.
    tag_plugin = [""] * ntags
    if out.plugin_vi:
        names = sorted(set(out.plugin_name))
        code = np.full(ntags, -1, dtype=np.int64)
        for vi, plugin in zip(out.plugin_vi, out.plugin_name, strict=True):
            code[tag_id[vi]] = names.index(plugin)
        for t in np.flatnonzero(code >= 0).tolist():
            tag_plugin[t] = names[code[t]]
    if out.meta:
        mv, mp, ml = (np.concatenate(c) for c in zip(*out.meta, strict=True))
        one = np.full(ntags, -1, dtype=np.int64)
        one[tag_id[mv]] = np.arange(mv.size)
        for i in one[one >= 0].tolist():
            tag_plugin[int(tag_id[mv[i]])] = _plugin_name(buf, int(mp[i]), int(ml[i]))
    scalar_tag = np.array([p not in _NOT_SCALAR_PLUGINS for p in tag_plugin], dtype=bool)
    hist_tag = np.array([p == "histograms" for p in tag_plugin], dtype=bool)

    sc_vi = list(out.sc_vi)
    sc_val = list(out.sc_val)
    sc_tensor = list(out.sc_tensor)
    hist_vi = list(out.hist_vi)
    hist_stats = list(out.hist_stats)
    if out.tensors:
        tv, tp, tl = (np.concatenate(c) for c in zip(*out.tensors, strict=True))
        is_hist = hist_tag[tag_id[tv]]
        if is_hist.any():
            raw = buf.data
            rows, idxs = [], []
            for i in np.flatnonzero(is_hist).tolist():
                a, ln = int(tp[i]), int(tl[i])
                st = _histogram_tensor_stats(bytes(raw[a : a + ln]))
                if st is not None:
                    rows.append(st)
                    idxs.append(int(tv[i]))
                elif rec_ok[v_rec[tv[i]]]:
                    undecoded += 1
            if rows:
                hist_vi.append(np.array(idxs, dtype=np.int64))
                hist_stats.append(np.array(rows))
        cand = np.flatnonzero(~is_hist)
        if cand.size:
            k, vals = _tensor_scalars(buf, views, tp[cand], tl[cand])
            # A tensor its plugin calls a scalar that is not one (a crafted shape or dtype).
            missed = np.ones(cand.size, dtype=bool)
            missed[k] = False
            scalars_plugin = np.array([p == "scalars" for p in tag_plugin], dtype=bool)
            mv = tv[cand][missed]
            undecoded += int((scalars_plugin[tag_id[mv]] & rec_ok[v_rec[mv]]).sum())
            sc_vi.append(tv[cand][k])
            sc_val.append(vals)
            sc_tensor.append(True)
    # Tensor scalars only count under a scalar-like plugin.
    for i, is_t in enumerate(sc_tensor):
        if is_t:
            keep = scalar_tag[tag_id[sc_vi[i]]]
            if not keep.all():
                sc_vi[i], sc_val[i] = sc_vi[i][keep], sc_val[i][keep]
    _count_undecoded(log, name, undecoded)
    v_step, v_wall = _cat(out.v_step), _cat(out.v_wall, np.float64)
    if sc_vi:
        vidx, vals = _cat(sc_vi), _cat(sc_val, np.float64)
        sel, perm, groups = _output_order(vidx, v_rec, v_pos, tag_id, ntags, rec_ok)
        vals = vals if perm is None else vals[perm]
        steps = v_step if sel is None else v_step[sel]
        walls = v_wall if sel is None else v_wall[sel]
        for tg, sl in groups:
            log.series.append(
                RawSeries(
                    name=tag_names[tg],
                    steps=steps[sl],
                    values=vals[sl],
                    source=name,
                    unit="step",
                    wall_time=walls[sl],
                )
            )
    if hist_vi:
        vidx, stats = _cat(hist_vi), np.concatenate(hist_stats)
        sel, perm, groups = _output_order(vidx, v_rec, v_pos, tag_id, ntags, rec_ok)
        stats = stats if perm is None else stats[perm]
        steps = v_step if sel is None else v_step[sel]
        for tg, sl in groups:
            log.histograms.append(
                RawHistogram(name=tag_names[tg], steps=steps[sl], stats=stats[sl], source=name)
            )


def _count_undecoded(log: RawLog, name: str, k: int) -> None:
    if k:
        log.dropped_records += k
        log.problem(
            "corrupt",
            f"{name}: {k} summary value(s) in records whose checksums hold do not decode "
            "(malformed value, or a tensor that is not what its plugin says); skipped",
            k,
        )


def _output_order(vidx, v_rec, v_pos, tag_id, ntags, rec_ok):
    """How to lay out the values ``vidx``: (value index per output row or None for all
    values in order, permutation of ``vidx``'s rows or None, (tag, slice) per tag).

    Output rows are grouped by tag (tags in first-appearance order), in file order within a
    tag, without the values of records that failed their checksum.
    """
    keep = None
    if not rec_ok.all():
        keep = np.flatnonzero(rec_ok[v_rec[vidx]])
    identity = (
        keep is None and vidx.size == v_rec.size and bool((vidx == np.arange(vidx.size)).all())
    )
    sub = vidx if keep is None else vidx[keep]
    pos = v_pos if identity else v_pos[sub]
    order = _write_order(pos)
    tid = tag_id if identity else tag_id[sub]
    if order is not None:
        tid = tid[order]
    o2, groups = _group(tid, ntags)
    perm = order if o2 is None else o2 if order is None else order[o2]
    if keep is not None:
        perm = keep if perm is None else keep[perm]
    if identity:
        return perm, perm, groups
    return (vidx if perm is None else vidx[perm]), perm, groups


def _plugin_name(buf: np.ndarray, pos: int, length: int) -> str:
    """SummaryMetadata.plugin_data.plugin_name of the metadata at ``buf[pos:pos+length]``."""
    data = buf[pos : pos + length].tobytes()
    try:
        for f, wt, v in _iter_fields(data):
            if f == 1 and wt == 2:
                for f2, w2, v2 in _iter_fields(data, *v):
                    if f2 == 1 and w2 == 2:
                        return data[v2[0] : v2[1]].decode("utf-8", "replace")
    except (ValueError, IndexError):
        pass
    return ""


def _write_order(pos: np.ndarray) -> np.ndarray | None:
    """Permutation putting values in file order (None when they already are)."""
    if pos.size < 2 or (pos[1:] > pos[:-1]).all():
        return None
    return np.argsort(pos, kind="stable")


def _group(ids: np.ndarray, nids: int) -> tuple[np.ndarray | None, list[tuple[int, slice]]]:
    """A stable permutation sorting ``ids`` (None if already sorted) and, per id present,
    its slice of the sorted order."""
    counts = np.bincount(ids, minlength=nids)
    present = np.flatnonzero(counts)
    if present.size <= 1 or (ids[1:] >= ids[:-1]).all():
        order = None
    else:
        key = ids.astype(np.uint16) if nids <= 65536 else ids
        order = np.argsort(key, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return order, [(int(t), slice(int(bounds[t]), int(bounds[t + 1]))) for t in present]


# Keys (field << 3 | wire type) of TensorProto's repeated numeric value fields, packed
# (wire type 2) and unpacked: float 5, double 6, int 7, int64 10, half 13, uint32 16, uint64 17.
_TEN_VAL_KEYS = tuple(
    (f << 3) | w
    for f in _TEN_VAL_FIELDS
    for w in ((2, 5) if f == 5 else (2, 1) if f == 6 else (2, 0))
)


def _tensor_scalars(
    buf: np.ndarray, views: dict, tp: np.ndarray, tl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Values of the single-element numeric tensors among TensorProtos at ``tp``/``tl``.

    Returns (indices into ``tp`` of the tensors that are scalars, their float64 values).
    """
    nt = tp.size
    tf, _ = _expect(buf, tp, tp + tl, (_TEN_DTYPE, _TEN_SHAPE, _TEN_CONTENT, 0x2A, 0x32))
    dtype = np.zeros(nt, dtype=np.int64)
    m, _p, v = tf.pick(_TEN_DTYPE)
    dtype[m] = v
    # Shape: every dim must have size 1 (rank 0, an empty shape, counts as one element).
    single = np.ones(nt, dtype=bool)
    sm, sp, sl = tf.pick(_TEN_SHAPE)
    ranked = np.flatnonzero(sl > 0)
    if ranked.size:
        sm, sp, sl = sm[ranked], sp[ranked], sl[ranked]
        shp, _ = _scan(buf, sp, sp + sl)
        dm, dp, dl = shp.pick(_SHAPE_DIM)
        if dm.size:
            dims, _ = _scan(buf, dp, dp + dl)
            size = np.zeros(dm.size, dtype=np.int64)
            zm, _zp, zv = dims.pick(_DIM_SIZE)
            size[zm] = zv
            single[sm[dm[size != 1]]] = False
        unknown_rank = shp.pick(0x18)[0]
        single[sm[unknown_rank]] = False
    cand = single & np.isin(dtype, list(_DT))
    value = np.full(nt, np.nan)
    have = np.zeros(nt, dtype=bool)
    # tensor_content.
    cm, cp, cl = tf.pick(_TEN_CONTENT)
    if cm.size:
        keep = cand[cm]
        cm, cp, cl = cm[keep], cp[keep], cl[keep]
        for dt in np.unique(dtype[cm]).tolist():
            sel = np.flatnonzero((dtype[cm] == dt) & (cl >= _DT_SIZE[dt]))
            if sel.size:
                value[cm[sel]] = _read_num(buf, views, cp[sel], dt)
                have[cm[sel]] = True
    # Typed value fields, packed or not (the first kind present wins).
    seen_any = np.zeros(nt, dtype=bool)
    for key in _TEN_VAL_KEYS:
        m, pos, val = tf.pick(key)
        if not m.size:
            continue
        seen_any[m] = True
        f, wt = key >> 3, key & 7
        keep = np.flatnonzero(cand[m] & ~have[m])
        if not keep.size:
            continue
        m, pos, val = m[keep], pos[keep], val[keep]
        if f in (5, 6):
            code = "<f4" if f == 5 else "<f8"
            ok = (val >= np.dtype(code).itemsize) if wt == 2 else np.ones(m.size, dtype=bool)
            m, pos = m[ok], pos[ok]
            out = views[code][pos].astype(np.float64)
        else:
            ok = val > 0 if wt == 2 else np.ones(m.size, dtype=bool)
            m, pos, val = m[ok], pos[ok], val[ok]
            iv = _varint(buf, pos)[0] if wt == 2 else val
            if f == 13:
                bits = iv & 0xFFFF
                h16 = bits.astype(np.uint16).view(np.float16).astype(np.float64)
                bf = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
                out = np.where(dtype[m] == 14, bf, h16)
            elif f == 17:
                out = iv.astype(np.uint64).astype(np.float64)
            elif f == 16:
                out = (iv & 0xFFFFFFFF).astype(np.float64)
            else:
                out = iv.astype(np.float64)
        value[m] = out
        have[m] = True
    # No content and no values: TensorFlow reads such a tensor as zeros.
    empty = cand & ~have & ~seen_any
    if cm.size:
        empty[cm] = False
    value[empty] = 0.0
    have |= empty
    idx = np.flatnonzero(cand & have)
    return idx, value[idx]


def _read_num(buf: np.ndarray, views: dict, pos: np.ndarray, dt: int) -> np.ndarray:
    code = _DT[dt]
    if code == "bf16":
        bits = views["<u2"][pos].astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)
    if code in ("u1", "i1"):
        b = buf[pos]
        return (b.view(np.int8) if code == "i1" else b).astype(np.float64)
    return views[code][pos].astype(np.float64)

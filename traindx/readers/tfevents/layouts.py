"""Compiled record layouts: records that parse like one sample record, decoded by gathers."""

from __future__ import annotations

import numpy as np

from traindx.readers.tfevents.columns import _Out
from traindx.readers.tfevents.proto import (
    _DT_SIZE,
    _EV_STEP,
    _EV_SUMMARY,
    _EV_WALL,
    _SUM_VALUE,
    _TEN_CONTENT,
    _TEN_DTYPE,
    _TEN_SHAPE,
    _VAL_META,
    _VAL_SIMPLE,
    _VAL_TAG,
    _VAL_TENSOR,
    _read_num,
)
from traindx.readers.tfevents.pyfields import _iter_fields

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

    def __init__(self, length, checks, wall, step, values) -> None:
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

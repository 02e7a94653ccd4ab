"""Single-element numeric TensorProtos (TF2 / Keras scalars) decoded in bulk."""

from __future__ import annotations

import numpy as np

from traindx.arrays import unique
from traindx.readers.tfevents.proto import (
    _DIM_SIZE,
    _DT,
    _DT_SIZE,
    _SHAPE_DIM,
    _TEN_CONTENT,
    _TEN_DTYPE,
    _TEN_SHAPE,
    _TEN_VAL_KEYS,
    _read_num,
)
from traindx.readers.tfevents.scan import _expect, _scan, _varint


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
        for dt in unique(dtype[cm]).tolist():
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

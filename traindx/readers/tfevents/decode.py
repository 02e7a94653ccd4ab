"""Record decoding: compiled layouts first, the generic lockstep decoder for the rest."""

from __future__ import annotations

import numpy as np

from traindx.readers.tfevents.columns import _Out
from traindx.readers.tfevents.layouts import _decode_layouts
from traindx.readers.tfevents.proto import (
    _EV_STEP,
    _EV_SUMMARY,
    _EV_WALL,
    _SUM_VALUE,
    _VAL_HISTO,
    _VAL_META,
    _VAL_SIMPLE,
    _VAL_TAG,
    _VAL_TENSOR,
    _views,
)
from traindx.readers.tfevents.scan import _expect, _repeated


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

"""Series assembly: tags interned, tensors classified by plugin, values grouped per tag in file order."""

from __future__ import annotations

import numpy as np

from traindx.readers.raw import RawHistogram, RawLog, RawSeries
from traindx.readers.tfevents.columns import _Out
from traindx.readers.tfevents.hparams import (
    HF_ARGS,
    SESSION_START,
    session_hparams,
    text_json_hparams,
)
from traindx.readers.tfevents.intern import _intern
from traindx.readers.tfevents.proto import _NOT_SCALAR_PLUGINS, _views
from traindx.readers.tfevents.pyfields import _histogram_tensor_stats, _plugin_name
from traindx.readers.tfevents.scalars import _tensor_scalars


def _cat(parts: list[np.ndarray], dtype=np.int64) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _assemble(
    buf: np.ndarray,
    out: _Out,
    rec_ok: np.ndarray,
    log: RawLog,
    name: str,
    plugins: dict[str, str] | None = None,
) -> None:
    """Intern tags, classify tensors by plugin, drop bad records and build the series.
    ``plugins`` (tag -> plugin name, from earlier parts of the file) fills in the plugin of
    tags whose metadata is not among these records, and learns the ones that are."""
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
        if SESSION_START in tag_names:  # TensorBoard's hparams plugin: the run's hyperparameters
            t = tag_names.index(SESSION_START)
            for i in np.flatnonzero((tag_id[mv] == t) & rec_ok[v_rec[mv]]).tolist():
                hp = session_hparams(buf[int(mp[i]) : int(mp[i]) + int(ml[i])].tobytes())
                if hp is None:
                    log.problem("note", f"{name}: a {SESSION_START} summary whose hyperparameters do not decode; not read")
                else:
                    log.hyperparameters.update(hp)
    if plugins is not None:
        for t, tag in enumerate(tag_names):
            if tag_plugin[t]:
                plugins[tag] = tag_plugin[t]
            else:
                tag_plugin[t] = plugins.get(tag, "")
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
        if HF_ARGS in tag_names:  # HuggingFace's TrainingArguments as JSON text: the run's settings
            ta = tag_names.index(HF_ARGS)
            for i in np.flatnonzero((tag_id[tv] == ta) & rec_ok[v_rec[tv]]).tolist():
                hp = text_json_hparams(bytes(buf.data[int(tp[i]) : int(tp[i]) + int(tl[i])]))
                for name_, v in (hp or {}).items():
                    log.hyperparameters.setdefault(name_, v)
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

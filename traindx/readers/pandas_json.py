"""A pandas DataFrame written by ``DataFrame.to_json()`` (:mod:`traindx.readers.json_history`).

A beginner's history kept in a frame (or a dict of dicts keyed by the step, as ``pd.Series``
and hand-written ``costs[step] = J`` give) is saved in one of pandas' orients:

- ``columns`` (the default): ``{"J": {"0": 2.3, "1": 2.1}, "J_test": {"0": 2.4, "1": 2.2}}``;
- ``index``: ``{"0": {"J": 2.3, "J_test": 2.4}, "1": {...}}``;
- ``split``: ``{"columns": ["J", "J_test"], "index": [0, 1], "data": [[2.3, 2.4], [2.1, 2.2]]}``;
- ``table``: ``{"schema": {...}, "data": [{"index": 0, "J": 2.3}, ...]}``;
- ``records`` (a list of objects) is read as such a list is (:func:`history_records`).

Each row is one record. Index labels 0..n-1 shared by every column are the epoch (as the
unnamed index column of ``to_csv``: :func:`traindx.readers.csvcolumns._pandas_index`); whole
labels with gaps, or columns each keyed by labels of their own (``{"J": {"0":..,"1":..},
"J_test": {"14":..,"28":..}}``: dicts filled at a global counter), are the step; other labels
(dates) give the row order as the epoch. A column named ``epoch`` or ``step`` wins.
"""

from __future__ import annotations

from typing import Any


def _number(v: Any) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool)) or v is None


def _index(label: Any) -> int | None:
    try:
        x = float(label)
    except (TypeError, ValueError):
        return None
    return int(x) if x.is_integer() else None


def _rows(labels: list[Any], rows: list[dict[str, Any]], shared: bool = True) -> list[tuple[int, dict[str, Any]]]:
    idx = [_index(x) for x in labels]
    whole = None not in idx and len(set(idx)) == len(idx)
    # a frame's own index 0..n-1 numbers its rows (epochs, as to_csv's); labels with gaps, or
    # columns each with labels of its own (dicts filled at a global counter), count steps
    # (or 1..n: a hand loop's ``hist[epoch] = {...}`` counting epochs from 1)
    first = min(idx) if whole and idx else 0  # type: ignore[type-var]
    axis_key = "epoch" if not whole or (shared and first in (0, 1) and sorted(idx) == list(range(first, first + len(idx)))) else "step"  # type: ignore[type-var]
    order = sorted(range(len(rows)), key=lambda k: idx[k]) if whole else range(len(rows))  # type: ignore[arg-type,return-value]
    out = []
    for n, k in enumerate(order):
        rec = {key: v for key, v in rows[k].items() if _number(v)}
        axis = idx[k] if whole else n
        if not any(a in {c.lower() for c in rec} for a in ("epoch", "step")):
            rec = {axis_key: axis, **rec}
        out.append((n, rec))
    return out


def _enough(records: list[tuple[int, dict[str, Any]]]) -> bool:
    """Two or more rows holding a number beside the axis."""
    return sum(any(k not in ("epoch", "step") and v is not None for k, v in r.items()) for _, r in records) >= 2


def frame_records(doc: Any) -> list[tuple[int, dict[str, Any]]] | None:
    """The rows of a frame in one of pandas' JSON orients, or None when ``doc`` is not one."""
    if not isinstance(doc, dict) or not doc:
        return None
    if isinstance(doc.get("columns"), list) and isinstance(doc.get("data"), list):  # split
        cols, data = doc["columns"], doc["data"]
        if not all(isinstance(r, list) and len(r) == len(cols) for r in data):
            return None
        index = doc.get("index")
        labels: list[Any] = index if isinstance(index, list) else list(range(len(data)))
        if len(labels) != len(data):
            return None
        out = _rows(labels, [dict(zip(map(str, cols), r, strict=True)) for r in data])
        return out if _enough(out) else None
    if isinstance(doc.get("schema"), dict) and isinstance(doc.get("data"), list):  # table
        data = [r for r in doc["data"] if isinstance(r, dict)]
        if len(data) != len(doc["data"]):
            return None
        out = _rows([r.get("index", n) for n, r in enumerate(data)], [{k: v for k, v in r.items() if k != "index"} for r in data])
        return out if _enough(out) else None
    if not all(isinstance(v, dict) for v in doc.values()):
        return None
    shared = True
    if all(_index(k) is not None for k in doc):  # index: the outer keys are the row labels
        labels, rows = list(doc), list(doc.values())
    else:  # columns: the inner keys are the row labels, shared by the columns
        labels = list(dict.fromkeys(k for col in doc.values() for k in col))
        rows = [{c: col[k] for c, col in doc.items() if k in col} for k in labels]
        shared = all(len(col) == len(labels) for col in doc.values())
        if not all(_index(k) is not None for k in labels):
            return None
    if not all(isinstance(k, str) for r in rows for k in r) or not all(_number(v) for r in rows for v in r.values()):
        return None
    out = _rows(labels, rows, shared)
    return out if _enough(out) else None

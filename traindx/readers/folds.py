"""A cross-validation table (``fold,epoch,loss,...``, a k-fold loop writing one file): each
fold is its own run. Read as one file, the epoch restarting at each fold would look like a
run resumed k-1 times and every fold but the last would be superseded.

The same holds for a file per fold in one folder (``fold_1.csv`` .. ``fold_5.csv``,
``history_fold2.json``, ``cv_3.log``: the names alike but for the fold's number): each file is
a run of its own, ``<folder>/<file's stem>``, never a resumed run superseding the others."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from traindx.readers.raw import RawLog, RawSeries

#: Column names a k-fold loop writes for the fold's index (sklearn KFold loops in tutorials).
FOLD_COLUMNS = frozenset({"fold", "folds", "kfold", "k_fold", "cv_fold", "fold_idx", "fold_id", "fold_index", "split_idx", "fold_no", "fold_num"})


def fold_runs(log: RawLog) -> list[tuple[str, RawLog]] | None:
    """``log`` split by its fold column into (fold label, log of that fold's rows), or None
    when it has no fold column taking at least two whole-number values on every row, each
    fold's rows together."""
    fold = next((s for s in log.series if s.name.strip().lower() in FOLD_COLUMNS), None)
    if fold is None or len(fold.values) == 0 or not np.all(np.isfinite(fold.values)):
        return None
    if np.any(fold.values != np.round(fold.values)):
        return None
    # the fold of each row: only a table whose columns all have a cell on every row
    if any(len(s.values) != len(fold.values) or not np.array_equal(s.steps, fold.steps) for s in log.series):
        return None
    labels = list(dict.fromkeys(int(v) for v in fold.values))  # in write order
    blocks = 1 + int(np.count_nonzero(np.diff(fold.values)))
    if len(labels) < 2 or blocks != len(labels):  # a loop writes each fold's rows together
        return None
    out = []
    for k in labels:
        keep = fold.values == k
        part = RawLog(
            path=log.path, records=int(keep.sum()), plan=dict(log.plan), steps_counted=log.steps_counted,
            flags=dict(log.flags),
            hyperparameters=dict(log.hyperparameters),
            problems=list(log.problems) if k == labels[0] else [],
        )  # fmt: skip
        for s in log.series:
            if s is fold:
                continue
            wall = None if s.wall_time is None else s.wall_time[keep]
            part.series.append(RawSeries(s.name, s.steps[keep], s.values[keep], s.source, s.unit, wall, s.split))
        out.append((f"{fold.name.strip()}{k}", part))
    return out


def has_fold_column(path: str | Path) -> bool:
    """True when the table's header names a fold column (read only the first line)."""
    from traindx.readers.csvlog import _first_line, _long_fields, _sniff_delimiter

    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = _first_line(f.read(65536))
    except OSError:
        return False
    if first is None:
        return False
    with _long_fields(len(first)):
        cells = next(csv.reader([first], delimiter=_sniff_delimiter(first)), [])
    return any(c.strip().lower() in FOLD_COLUMNS for c in cells)


#: The fold's number in a file's name: ``fold_1``, ``Fold3``, ``kfold-2``, ``cv_4``, ``cv5``.
_FOLD_NAME = re.compile(r"(?i)(?<![a-z])(k?_?fold|cv)[_\- ]?(\d+)(?!\d)")


def fold_files(files: list[tuple[Path, str | None]]) -> list[tuple[Path, str | None, str]]:
    """(file, split, label) of the files of one folder written per fold: two or more whose names
    are the same but for the fold's number (:data:`_FOLD_NAME`), with different numbers."""
    groups: dict[tuple[str, str], list[tuple[Path, str | None, str]]] = {}
    for f, split in files:
        m = _FOLD_NAME.search(f.name)
        if m is not None:
            template = (str(f.parent), f.name[: m.start(2)] + "#" + f.name[m.end(2) :])
            groups.setdefault(template, []).append((f, split, m[2]))
    out: list[tuple[Path, str | None, str]] = []
    for members in groups.values():
        if len({int(n) for _, _, n in members}) == len(members) >= 2:
            out.extend((f, split, f.stem) for f, split, _ in members)
    return out


def fold_tables(files: list[tuple[Path, str | None]], reader: Any) -> list[tuple[Path, list[tuple[str, RawLog]]]]:
    """The CSV tables among ``files`` that hold several folds of a cross-validation, each
    split into its folds (:func:`fold_runs`); not while a run is watched (``reader`` given)."""
    from traindx.errors import ReadError
    from traindx.readers import _read_file
    from traindx.readers.discovery import _kind

    out: list[tuple[Path, list[tuple[str, RawLog]]]] = []
    for f, _ in files:
        if reader is None and _kind(f) == "csv" and has_fold_column(f):
            try:
                folds = fold_runs(_read_file(f, "csv"))
            except ReadError:
                continue  # build_run says why
            if folds:
                out.append((f, folds))
    return out

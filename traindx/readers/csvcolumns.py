"""A metrics table's rows as numeric columns, and the columns as raw series.

:func:`parse_rows` parses a batch of rows (from :mod:`traindx.readers.csvlog`) column by
column into float64 (``nan``/``inf`` are values; empty cells and ``NA`` are "not logged";
``tensor(0.5)`` is read as 0.5); :func:`columns_to_log` picks the x axis (a step column, else
an epoch column, else the row number) and the wall clock, and gives one raw series per
numeric metric column, counting every cell it could not use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from traindx.errors import ReadError
from traindx.name_habits import fold_accents
from traindx.names import is_bookkeeping, map_name
from traindx.ordering import epoch_counter
from traindx.ranks import TIMING
from traindx.readers.csvlog import (
    EPOCH_COLUMNS,
    FOREIGN_EPOCH_COLUMNS,
    FOREIGN_STEP_COLUMNS,
    HEADER_HINT,
    MISSING,
    STEP_COLUMNS,
    WALL_COLUMNS,
    parse_number,
)
from traindx.readers.fractions import accuracy_like, correct_key, parse_fractions
from traindx.readers.raw import RawLog, RawSeries

_DURATION = re.compile(r"\d+(:\d\d){1,2}(\.\d+)?")  # fastai's "time" column: 00:12, 1:02:03
#: x values outside int64 cannot be steps: such points are dropped and counted.
_STEP_LIMIT = float(2**63)


def _parse_column(
    cells: list[str], decimal_comma: bool
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Values (NaN where absent), a mask of cells holding a number, and indices of bad cells."""
    if not decimal_comma:
        try:  # a dense numeric column: numpy parses it at once
            return np.array(cells, dtype=np.float64), np.ones(len(cells), dtype=bool), []
        except ValueError:
            pass
    cells = [c.strip() for c in cells]
    present = np.array([c.lower() not in MISSING for c in cells], dtype=bool)
    values = np.full(len(cells), np.nan)
    idx = np.flatnonzero(present)
    texts = [cells[i].replace(",", ".") if decimal_comma else cells[i] for i in idx]
    try:
        values[idx] = np.array(texts, dtype=np.float64)
        return values, present, []
    except ValueError:
        pass
    bad: list[int] = []
    for i, text in zip(idx, texts, strict=True):
        v = parse_number(text)
        if v is None:
            bad.append(int(i))
            present[i] = False
        else:
            values[i] = v
    return values, present, bad


def _x_axis(
    log: RawLog, header: list[str], columns: dict[int, tuple[np.ndarray, np.ndarray]], n_rows: int
) -> tuple[int | None, np.ndarray, np.ndarray, str]:
    """The x column (None: row number), x values, which rows have one, and the unit."""
    # an axis named in another script (轮次, エポック, эпоха) as its English word (name_habits.FOREIGN_WORDS)
    lower = [h.lower() if h.isascii() else fold_accents(h).strip("_ ").lower() for h in header]
    row_number = np.arange(n_rows, dtype=np.float64), np.ones(n_rows, dtype=bool)
    axes = (STEP_COLUMNS, "step"), (EPOCH_COLUMNS, "epoch"), (FOREIGN_STEP_COLUMNS, "step"), (FOREIGN_EPOCH_COLUMNS, "epoch")
    for names, unit in axes:
        col = _find(lower, names, columns)
        if col is None:
            continue
        steps, has_x = columns[col]
        has_x = has_x & (np.abs(steps) < _STEP_LIMIT)  # not NaN/inf, inside int64
        if np.any(np.isfinite(steps) & (steps != np.round(steps))):
            log.problem(
                "note",
                f"{log.path}: column '{header[col]}' has fractional values; "
                "the row number is used as the step"
            )
            return None, *row_number, "step"
        return col, steps, has_x, unit
    if _pandas_index(header, columns, n_rows):
        return 0, row_number[0], row_number[1], "epoch"
    return None, *row_number, "step"


def _pandas_index(header: list[str], columns: dict[int, tuple[np.ndarray, np.ndarray]], n_rows: int) -> bool:
    """True for ``pd.DataFrame(history.history).to_csv(...)``: an unnamed first column numbering
    the rows 0, 1, 2... beside a metric column filled in every row. A Keras history holds one
    row per epoch, so that index is the epoch (a per-batch frame carrying its own step column
    has it found first; a writer leaving cells empty by design has no such index)."""
    if len(header) < 2 or header[0].strip() not in ("", "Unnamed: 0") or 0 not in columns:
        return False
    index, present = columns[0]
    if not present.all() or not np.array_equal(index, np.arange(n_rows, dtype=np.float64)):
        return False
    metrics = [j for j in columns if j and map_name(header[j]) is not None]
    return any(columns[j][1].all() for j in metrics)


def _pandas_nan_columns(log: RawLog, header: list[str], cols: Columns) -> None:
    """Read a pandas-written table's all-empty metric columns as NaN, counted.

    ``pd.DataFrame(history.history).to_csv()`` writes NaN as an empty cell, so a history that
    is NaN from the first batch arrives as a header and empty rows. Its fingerprint is the
    unnamed index column (``,loss,val_loss``) numbering the rows 0, 1, 2...; a writer that
    leaves cells empty by design (Lightning's metrics.csv) has no such column, and a column
    with any value keeps its empty cells as "not logged".
    """
    if len(header) < 2 or header[0].strip() not in ("", "Unnamed: 0") or not len(cols):
        return
    index, present = cols.values[0], cols.present[0]
    if not present.all() or not np.array_equal(index, np.arange(len(cols), dtype=np.float64)):
        return
    empty = [
        j for j in range(1, len(header))
        if not cols.present[j].any() and not cols.nbad[j]
        and not is_bookkeeping(header[j]) and map_name(header[j]) is not None
    ]  # fmt: skip
    for j in empty:
        cols.values[j] = np.full(len(cols), np.nan)
        cols.present[j] = np.ones(len(cols), dtype=bool)
    if empty:
        names = ", ".join(f"'{header[j]}'" for j in empty)
        log.problem(
            "note",
            f"{log.path}: column(s) {names} empty in all {len(cols)} rows of a pandas-written "
            "table (its index column); pandas writes NaN as an empty cell, so they are read as NaN",
            len(empty) * len(cols),
        )


def _nan_tails(log: RawLog, header: list[str], cols: Columns) -> None:
    """Read a metric column's empty tail as NaN where a column of its cadence goes on, counted.

    ``pd.DataFrame(history.history).to_csv()`` writes NaN as an empty cell, so a loss that goes
    NaN at epoch 7 leaves a column filled in every row up to 6 and empty from 7 on, while the
    rows go on (its accuracy still logged). That shape - filled in each of two rows or more,
    then empty in every later row, beside another metric column filled in all of those rows
    and all the later ones - is a value lost, not a metric left out: a writer that leaves
    cells empty by design (Lightning's metrics.csv, a validation every other epoch) fills a
    column only in its own rows, interleaved, never in every row up to a point.
    """
    n = len(cols)
    metric = [
        j for j in range(len(header))
        if not cols.nbad[j] and not is_bookkeeping(header[j]) and map_name(header[j]) is not None
    ]  # fmt: skip
    first_gap = {j: int(np.argmin(cols.present[j])) if not cols.present[j].all() else n for j in metric}
    tails = [
        j for j in metric
        if 2 <= first_gap[j] < n and not cols.present[j][first_gap[j]:].any()
        and any(first_gap[i] == n for i in metric if i != j)
    ]  # fmt: skip
    for j in tails:
        cols.values[j][first_gap[j]:] = np.nan
        cols.present[j][first_gap[j]:] = True
    if tails:
        names = ", ".join(f"'{header[j]}' from line {int(cols.lines[first_gap[j]])}" for j in tails)
        log.problem(
            "note",
            f"{log.path}: column(s) {names} empty in every later row while other metric columns "
            "go on (pandas writes NaN as an empty cell); read as NaN",
            sum(n - first_gap[j] for j in tails),
        )


def _find(lower: list[str], names: tuple[str, ...], columns: dict) -> int | None:
    """The first of ``names`` that is a numeric column."""
    return next((lower.index(n) for n in names if n in lower and lower.index(n) in columns), None)


@dataclass
class Columns:
    """A table's rows parsed into numbers, column by column (``values`` NaN where absent,
    ``present`` where a number was read), with what the parse met."""

    lines: np.ndarray  # the line number of each row
    values: list[np.ndarray]
    present: list[np.ndarray]
    nbad: list[int]  # cells that are not numbers, per column
    first_bad: list[tuple[int, str] | None]  # (line, cell) of the first of them
    ragged: tuple[int, int] | None = None  # (line, fields) of the first row with too many
    short: int = 0  # rows with fewer fields than the header
    short_line: int = 0
    fractions: list[int] | None = None  # cells read as a share 'a/b', per column (readers/fractions.py)

    def __len__(self) -> int:
        return int(self.lines.size)


def parse_rows(header: list[str], rows: list[list[str]], lines: list[int], delim: str) -> Columns:
    """The numbers of a batch of data rows (``lines``: each row's line number)."""
    n = len(header)
    ragged = next((k for k, r in enumerate(rows) if len(r) > n), None)
    short = [k for k, r in enumerate(rows) if len(r) < n]
    cols = Columns(np.asarray(lines, dtype=np.int64), [], [], [], [],
                   None if ragged is None else (lines[ragged], len(rows[ragged])),
                   len(short), lines[short[0]] if short else 0)  # fmt: skip
    table = list(zip(*(r[:n] + [""] * (n - len(r)) for r in rows), strict=True)) or [()] * n
    for j in range(n):
        cells = list(table[j])
        values, present, bad = _parse_column(cells, decimal_comma=delim == ";")
        shares = len(bad)
        if bad and accuracy_like(header[j]):  # '79/114' correct/total in an accuracy column
            bad = parse_fractions(values, present, [c.strip() for c in cells], bad)
        cols.fractions = (cols.fractions or []) + [shares - len(bad)]
        cols.values.append(values)
        cols.present.append(present)
        cols.nbad.append(len(bad))
        cols.first_bad.append((lines[bad[0]], cells[bad[0]].strip()) if bad else None)
    return cols


def join_columns(parts: list[Columns]) -> Columns:
    """Batches of one table's rows as one (each column joined and its batches let go)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    out = Columns(np.concatenate([c.lines for c in parts]), [], [], [], [],
                  next((c.ragged for c in parts if c.ragged), None), sum(c.short for c in parts),
                  next((c.short_line for c in parts if c.short), 0))  # fmt: skip
    for j in range(len(first.values)):
        out.values.append(np.concatenate([c.values[j] for c in parts]))
        out.present.append(np.concatenate([c.present[j] for c in parts]))
        for c in parts:
            c.values[j] = c.present[j] = None  # type: ignore[call-overload]
        out.nbad.append(sum(c.nbad[j] for c in parts))
        out.first_bad.append(next((c.first_bad[j] for c in parts if c.first_bad[j]), None))
    out.fractions = [sum((c.fractions or [0] * len(first.values))[j] for c in parts) for j in range(len(first.values))]
    return out


def table_to_log(
    log: RawLog, header: list[str], rows: list[list[str]], lines: list[int], delim: str
) -> RawLog:
    """Raw series from a table's header and data rows (``lines``: each row's line number)."""
    if not rows:  # nothing logged yet (a header, or not even that)
        log.records = 0
        return log
    return columns_to_log(log, header, parse_rows(header, rows, lines, delim))


def columns_to_log(log: RawLog, header: list[str], cols: Columns) -> RawLog:
    """Raw series from a table's header and its parsed rows."""
    src = log.path
    log.records = len(cols)
    if not len(cols):  # nothing logged yet (a header, or not even that)
        return log
    lines = cols.lines
    # fastai's CSVLogger: epoch,train_loss,valid_loss,<metrics>,time - metrics are validation's
    split_hint = "val" if {"train_loss", "valid_loss", "time"} <= {h.lower() for h in header} else None
    n = len(header)
    if cols.ragged is not None:
        log.problem(
            "skipped",
            f"{src}:{cols.ragged[0]}: {cols.ragged[1]} fields but the header has {n}; "
            "extra fields ignored"
        )
    if cols.short:  # a row cut short (merged lines, a stray newline): its missing cells are unknown
        log.problem(
            "corrupt",
            f"{src}:{cols.short_line}: {cols.short} row(s) with fewer fields than the header's "
            f"{n}; their missing cells read as not logged",
        )
    _pandas_nan_columns(log, header, cols)
    _nan_tails(log, header, cols)
    columns: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # numeric columns only
    for j, name in enumerate(header):
        values, present, nbad, first_bad = cols.values[j], cols.present[j], cols.nbad[j], cols.first_bad[j]
        good = int(present.sum())
        if good and good >= nbad:
            columns[j] = (values, present)
            if first_bad:
                log.dropped_records += nbad
                more = f" ({nbad} cells skipped)" if nbad > 1 else ""
                log.problem(
                    "corrupt",
                    f"{src}:{first_bad[0]}: column '{name}': '{first_bad[1]}' is not a number{more}",
                    nbad,
                )
        elif first_bad and not (is_bookkeeping(name) and _DURATION.fullmatch(first_bad[1])):
            log.problem(
                "skipped",
                f"{src}: column '{name}' is not numeric (line {first_bad[0]}: "
                f"'{first_bad[1]}'); column skipped"
            )

    for j, count in enumerate(cols.fractions or []):
        if count and j in columns and (key := correct_key(header[j])) is not None:
            log.names[header[j]] = key  # val_correct of '79/114' cells: the validation accuracy
        if count:
            log.problem("note", f"{src}: column '{header[j]}': {count} cell(s) like 'correct/total' read as the share")
    x_col, steps, has_x, unit = _x_axis(log, header, columns, len(cols))
    wall_col = _find([h.lower() for h in header], WALL_COLUMNS, columns)
    for j, (values, present) in columns.items():
        name = header[j]
        if j == x_col:
            continue
        if unit == "step" and name.strip().lower() in (*EPOCH_COLUMNS, *FOREIGN_EPOCH_COLUMNS):  # Lightning: epoch beside step
            keep = present & has_x
            if keep.any():  # a step column restarting every epoch (epoch,batch,loss): the count the series get
                x = steps[keep].astype(np.int64)
                log.epochs = (x if (cont := epoch_counter(x)) is None else cont, values[keep])
            continue
        if is_bookkeeping(name) and not TIMING.fullmatch(name.strip()):  # timings: stragglers of a multi-rank job
            continue
        lost = present & ~has_x
        if lost.any() and x_col is not None:
            log.dropped_records += int(lost.sum())
            log.problem(
                "dropped",
                f"{src}:{int(lines[int(np.argmax(lost))])}: column '{name}': no usable value in "
                f"'{header[x_col]}' (the x axis: missing, not finite or beyond 64 bits); "
                f"{int(lost.sum())} points skipped",
                int(lost.sum()),
            )
        keep = present & has_x
        if not keep.any():
            continue
        wall = columns[wall_col][0][keep] if wall_col is not None else None
        log.series.append(
            RawSeries(
                name=name,
                steps=steps[keep].astype(np.int64),
                values=values[keep],
                source=src,
                unit=unit,
                wall_time=wall,
                split=split_hint,
            )
        )
    if not log.series and not any(p.kind == "dropped" for p in log.problems):
        raise ReadError(src, f"no numeric columns; {HEADER_HINT}")
    return log

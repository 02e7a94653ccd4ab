"""Read metric tables: Keras ``CSVLogger``, Lightning ``metrics.csv`` and generic tables.

The x axis is the first step-like column (:data:`STEP_COLUMNS`), else an epoch column
(``unit="epoch"``), else the row number. Empty cells (and Keras' ``NA``) are "not logged", so
sparse Lightning columns give each series only its own rows. ``nan``/``inf`` are values.
Points keep write order: repeated or restarting steps are resolved later by ``Series``.
A last line without its newline is a row still being written: it is left for the next read
(an ``incomplete`` problem, not damage). A file with a header and no rows yet gives no series.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from traindx.errors import ReadError
from traindx.names import is_bookkeeping, map_name
from traindx.ranks import TIMING
from traindx.readers.hygiene import CONFLICT_LINE, describe_stray
from traindx.readers.raw import RawLog, RawSeries

STEP_COLUMNS = ("step", "global_step", "trainer/global_step", "_step", "iteration", "iter", "batch")
EPOCH_COLUMNS = ("epoch", "epochs")
WALL_COLUMNS = ("wall_time", "walltime", "_timestamp", "timestamp", "time")
#: Cells meaning "not logged" (Keras CSVLogger writes ``NA``); ``nan`` is a value, not missing.
MISSING = frozenset({"", "na", "n/a", "none", "null", "<na>", "#n/a"})
HEADER_HINT = "expected a header row like 'epoch,loss,val_loss'"
_DURATION = re.compile(r"\d+(:\d\d){1,2}(\.\d+)?")  # fastai's "time" column: 00:12, 1:02:03
# str(torch tensor) written into a log: tensor(0.5), tensor(0.5, device='cuda:0', grad_fn=...)
_TENSOR = re.compile(r"tensor\(\s*([^,)\s]+)")
_MAX_TENSOR_CELL = 256
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the csv module breaks lines on (not \v, \f...)


#: x values outside int64 cannot be steps: such points are dropped and counted.
_STEP_LIMIT = float(2**63)


def complete_lines(log: RawLog, text: str) -> str:
    """``text`` without an unterminated last line (a line still being written), which is
    noted as ``incomplete``; a file of one unterminated line is kept whole."""
    if not text or text.endswith(("\n", "\r")):
        return text
    cut = max(text.rfind("\n"), text.rfind("\r"))
    if cut < 0:
        return text
    line = text.count("\n") + 1
    log.problem("incomplete", f"{log.path}:{line}: the last line has no newline yet (still being written?); not read")
    return text[: cut + 1]


def open_binary(path: str | Path, src: str | None = None) -> BinaryIO:
    """The file opened for reading bytes, or a ReadError naming it (``src``, else the path)."""
    name = str(path) if src is None else src
    try:
        return open(path, "rb")  # noqa: SIM115 (the caller closes it)
    except FileNotFoundError:
        raise ReadError(name, "no such file") from None
    except IsADirectoryError:
        raise ReadError(name, "is a directory, expected a file") from None
    except OSError as err:
        raise ReadError(name, f"cannot read ({err.strerror})") from None


def read_text(path: str | Path) -> str:
    """A file's text, or a ReadError naming it."""
    with open_binary(path) as f:
        try:
            data = f.read()
        except OSError as err:
            raise ReadError(str(path), f"cannot read ({err.strerror})") from None
    return data.decode("utf-8-sig", errors="replace")


def parse_number(text: str) -> float | None:
    """A float from a cell (``0.5``, ``nan``, ``-inf``, ``tensor(0.5)``), None if not a number."""
    m = _TENSOR.match(text) if len(text) < _MAX_TENSOR_CELL and text.endswith(")") else None
    try:
        return float(m[1] if m else text)
    except ValueError:
        return None


@contextmanager
def _long_fields(n: int) -> Iterator[None]:
    """Let the csv module read cells of up to ``n`` characters (its default limit, 128 KiB,
    raises on longer ones); the process-wide limit is restored afterwards."""
    old = csv.field_size_limit(max(n + 1, 131072))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _sniff_delimiter(line: str) -> str:
    """The one of comma, tab, semicolon that splits the header into most fields (comma on ties)."""
    with _long_fields(len(line)):
        return max(",\t;", key=lambda d: len(next(csv.reader([line], delimiter=d))))


def _first_line(text: str) -> str | None:
    return next((ln for ln in _LINE_BREAK.split(text) if ln.strip()), None)


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


def _read_table(
    src: str, text: str, log: RawLog | None = None, *,
    header: list[str] | None = None, delim: str = ",", line0: int = 0,
) -> tuple[list[str], list[list[str]], list[int], str]:
    """Header, data rows, the line number of each row, and the delimiter. Merge-conflict
    markers, repeated headers and one-field lines in a many-column table are skipped,
    counted and described in ``log``'s problems. ``header`` (with ``delim``) given: ``text``
    is more rows of that table, starting after line ``line0`` (a file read as it grows)."""
    known = bool(header)
    if not known:
        first = _first_line(text)
        if first is None:
            return [], [], [], ","
        delim = _sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header = list(header or [])
    rows: list[list[str]] = []
    lines: list[int] = []
    conflict: list[int] = []
    repeated: list[int] = []
    stray: list[tuple[int, str]] = []
    try:
        with _long_fields(len(text)):
            for row in reader:
                if not "".join(row).strip():
                    continue
                if not header:
                    header = [c.strip() or f"Unnamed: {j}" for j, c in enumerate(row)]
                    continue
                text_row = delim.join(row).strip()
                at = line0 + reader.line_num
                if CONFLICT_LINE.match(text_row):
                    conflict.append(at)
                elif [c.strip() for c in row] == header:
                    repeated.append(at)
                elif len(header) > 2 and len(row) == 1 and parse_number(row[0].strip()) is None:
                    stray.append((at, text_row))
                else:
                    rows.append(row)
                    lines.append(at)
    except csv.Error as err:
        raise ReadError(src, f"not a CSV table ({err})", line=line0 + reader.line_num) from None
    if log is not None:
        for kind, count, message in describe_stray(src, conflict, stray, repeated):
            log.problem(kind, message, count)
    if known:
        return header, rows, lines, delim
    numeric = [h for h in header if parse_number(h) is not None]
    if len(numeric) == len(header):
        raise ReadError(src, f"no header row (the first line holds numbers); {HEADER_HINT}", line=1)
    if numeric and log is not None:  # a header merged with a data row (a lost newline)?
        log.problem(
            "corrupt",
            f"{src}:1: header cell(s) {', '.join(repr(h[:20]) for h in numeric[:3])} are numbers "
            "(a data row run into the header?); read as column names",
        )
    return header, rows, lines, delim


def _x_axis(
    log: RawLog, header: list[str], columns: dict[int, tuple[np.ndarray, np.ndarray]], n_rows: int
) -> tuple[int | None, np.ndarray, np.ndarray, str]:
    """The x column (None: row number), x values, which rows have one, and the unit."""
    lower = [h.lower() for h in header]
    row_number = np.arange(n_rows, dtype=np.float64), np.ones(n_rows, dtype=bool)
    for names, unit in ((STEP_COLUMNS, "step"), (EPOCH_COLUMNS, "epoch")):
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
    return None, *row_number, "step"


def _find(lower: list[str], names: tuple[str, ...], columns: dict) -> int | None:
    """The first of ``names`` that is a numeric column."""
    return next((lower.index(n) for n in names if n in lower and lower.index(n) in columns), None)


def read_csv(path: str | Path) -> RawLog:
    """Read a metrics table into raw series, one per numeric metric column (in batches of
    rows, :mod:`traindx.readers.csvstream`: memory holds the numbers, not the text)."""
    from traindx.readers.csvstream import read_csv_stream

    return read_csv_stream(path)


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

    x_col, steps, has_x, unit = _x_axis(log, header, columns, len(cols))
    wall_col = _find([h.lower() for h in header], WALL_COLUMNS, columns)
    for j, (values, present) in columns.items():
        name = header[j]
        if j == x_col:
            continue
        if unit == "step" and name.strip().lower() in EPOCH_COLUMNS:  # Lightning: epoch beside step
            keep = present & has_x
            if keep.any():
                log.epochs = (steps[keep].astype(np.int64), values[keep])
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


def csv_header_problem(path: str | Path, overrides: dict[str, str] | None = None) -> str | None:
    """None when the file's header names at least one series :func:`map_name` recognizes
    (with the user's ``--map`` overrides), else why the file is not read as a metrics table."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = _first_line(f.read(65536))
    except OSError as err:
        return f"cannot read ({err.strerror or err})"
    if first is None:
        return "empty (nothing logged yet)"
    with _long_fields(len(first)):
        cells = next(csv.reader([first], delimiter=_sniff_delimiter(first)), [])
    if any(map_name(c.strip(), overrides) is not None for c in cells if parse_number(c.strip()) is None):
        return None
    return (
        f"no column name is a known metric (header: {first[:120]!r}); "
        "map one with --map NAME=loss (or val/loss, accuracy, lr ...)"
    )


def sniff_is_metrics_csv(path: str | Path, overrides: dict[str, str] | None = None) -> bool:
    """True when the file's header names at least one series :func:`map_name` recognizes."""
    return csv_header_problem(path, overrides) is None

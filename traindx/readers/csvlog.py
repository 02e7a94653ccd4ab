"""Read metric tables: Keras ``CSVLogger``, Lightning ``metrics.csv`` and generic tables.

The x axis is the first step-like column (:data:`STEP_COLUMNS`), else an epoch column
(``unit="epoch"``), else the row number. Empty cells (and Keras' ``NA``) are "not logged", so
sparse Lightning columns give each series only its own rows. ``nan``/``inf`` are values.
Points keep write order: repeated or restarting steps are resolved later by ``Series``.
A last line without its newline is a row still being written: it is left for the next read
(an ``incomplete`` problem, not damage). A file with a header and no rows yet gives no series.

This module reads the text (lines, delimiter, header, rows, stray lines);
:mod:`traindx.readers.csvcolumns` turns the rows into numeric columns and those into series.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from traindx.errors import ReadError
from traindx.names import map_name, paired_names
from traindx.readers.hygiene import CONFLICT_LINE, describe_stray
from traindx.readers.raw import RawLog

STEP_COLUMNS = ("step", "global_step", "trainer/global_step", "_step", "iteration", "iter", "batch")
EPOCH_COLUMNS = ("epoch", "epochs", "ep")
#: The axes of notebooks written in German, French, Spanish, Italian and Portuguese (accents
#: dropped: 'Época' -> 'epoca'), searched after the English ones; other scripts' (エポック, 에폭)
#: become the English word first (name_habits.FOREIGN_WORDS).
FOREIGN_STEP_COLUMNS = ("schritt", "etape", "paso", "passo", "iteracion", "iteracao", "iterazione")
FOREIGN_EPOCH_COLUMNS = ("epoche", "epoque", "epoca")
WALL_COLUMNS = ("wall_time", "walltime", "_timestamp", "timestamp", "time")
#: Cells meaning "not logged" (Keras CSVLogger writes ``NA``); ``nan`` is a value, not missing.
MISSING = frozenset({"", "na", "n/a", "none", "null", "<na>", "#n/a"})
HEADER_HINT = "expected a header row like 'epoch,loss,val_loss'"
# str(torch tensor) written into a log: tensor(0.5), tensor(0.5, device='cuda:0', grad_fn=...)
_TENSOR = re.compile(r"tensor\(\s*([^,)\s]+)")
_MAX_TENSOR_CELL = 256
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the csv module breaks lines on (not \v, \f...)


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


def read_bytes(f: BinaryIO, src: str, n: int = -1) -> bytes:
    """The next ``n`` bytes of an open file (all that is left by default), or a ReadError
    naming it (``src``)."""
    try:
        return f.read(n)
    except OSError as err:
        raise ReadError(src, f"cannot read ({err.strerror})") from None


def read_text(path: str | Path) -> str:
    """A file's text, or a ReadError naming it."""
    with open_binary(path) as f:
        data = read_bytes(f, str(path))
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


def _header_cells(row: list[str]) -> list[str]:
    """A header row's names: stripped, and without the comment mark of ``np.savetxt(header=...)``
    (``# epoch,loss,acc``: numpy writes ``# `` before the names) on a row of two names or more."""
    cells = [c.strip() for c in row]
    if len(cells) >= 2 and cells[0].startswith("#") and cells[0].lstrip("#").strip():
        cells[0] = cells[0].lstrip("#").strip()
    return cells


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
                    header = [c or f"Unnamed: {j}" for j, c in enumerate(_header_cells(row))]
                    continue
                text_row = delim.join(row).strip()
                at = line0 + reader.line_num
                if CONFLICT_LINE.match(text_row):
                    conflict.append(at)
                elif _header_cells(row) == header:
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
        raise ReadError(src, no_header(header) or f"no header row (the first line holds numbers); {HEADER_HINT}", line=1)
    if numeric and log is not None:  # a header merged with a data row (a lost newline)?
        log.problem(
            "corrupt",
            f"{src}:1: header cell(s) {', '.join(repr(h[:20]) for h in numeric[:3])} are numbers "
            "(a data row run into the header?); read as column names",
        )
    return header, rows, lines, delim


def read_csv(path: str | Path) -> RawLog:
    """Read a metrics table into raw series, one per numeric metric column (in batches of
    rows, :mod:`traindx.readers.csvstream`: memory holds the numbers, not the text)."""
    from traindx.readers.csvstream import read_csv_stream

    return read_csv_stream(path)


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
    if paired_names(cells) or any(
        map_name(c.strip(), overrides) is not None for c in cells if parse_number(c.strip()) is None
    ):
        return None
    if no_header(cells):
        return no_header(cells)
    return (
        f"no column name is a known metric (header: {first[:120]!r}); "
        "map one with --map NAME=loss (or val/loss, accuracy, lr ...)"
    )


def no_header(cells: list[str]) -> str | None:
    """Why a table whose first line is ``cells`` cannot be read (every cell a number: no
    header row), else None. Its column order lives only in the program that wrote it."""
    if len(cells) < 2 or any(parse_number(c.strip()) is None for c in cells):
        return None
    return (
        f"no header row (the first line is {len(cells)} numbers): traindx reads a table's columns by "
        "name; write a header line first, like 'epoch,loss,acc,val_loss,val_acc' (--map NAME=CANONICAL "
        "then maps names it does not know)"
    )


def headerless_table(path: str | Path) -> str | None:
    """:func:`no_header`'s reason for a file whose first two lines are rows of as many numbers."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            lines = [ln for ln in _LINE_BREAK.split(f.read(65536)) if ln.strip()][:2]
    except OSError:
        return None
    if len(lines) < 2:
        return None
    delim = _sniff_delimiter(lines[0])
    with _long_fields(len(lines[0]) + len(lines[1])):
        rows = [next(csv.reader([ln], delimiter=delim), []) for ln in lines]
    return no_header(rows[0]) if len(rows[0]) == len(rows[1]) and no_header(rows[1]) else None


def sniff_is_metrics_csv(path: str | Path, overrides: dict[str, str] | None = None) -> bool:
    """True when the file's header names at least one series :func:`map_name` recognizes."""
    return csv_header_problem(path, overrides) is None

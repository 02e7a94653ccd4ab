"""Metric tables read in batches of lines: memory holds numbers, not the file's text.

A table is read ``BATCH_BYTES`` at a time, cut after its last line break (and never inside
a quoted cell: a batch whose quotes are unbalanced takes in the next one); each batch's rows
are split by the csv module and parsed into float64 columns at once
(:func:`traindx.readers.csvcolumns.parse_rows`), and only those columns (9 bytes a cell) are
kept. The batches are joined, column by column, and read as one table
(:func:`traindx.readers.csvcolumns.columns_to_log`), so the series, drops and counts are the
ones a whole-file read gives. What differs: merge-conflict markers, repeated headers and
stray lines are reported once per batch they fall in.
"""

from __future__ import annotations

from pathlib import Path

from traindx.readers.csvcolumns import Columns, columns_to_log, join_columns, parse_rows
from traindx.readers.csvlog import _read_table, complete_lines, open_binary, read_bytes
from traindx.readers.raw import RawLog

#: Bytes of text read per batch (its rows as Python strings cost about 5 times that).
BATCH_BYTES = 1 << 22


def _cut(data: bytes) -> int:
    """Bytes of ``data`` up to and including its last line break outside quotes (0: none)."""
    end = data.rfind(b"\n") + 1 or data.rfind(b"\r") + 1
    while end and data.count(b'"', 0, end) % 2:  # inside a quoted cell: an earlier break
        end = data.rfind(b"\n", 0, end - 1) + 1 or data.rfind(b"\r", 0, end - 1) + 1
    return end


def _last_lines(log: RawLog, text: str, lines: int) -> str:
    """:func:`~traindx.readers.csvlog.complete_lines` of the last batch of a file whose
    first ``lines`` lines were read before."""
    if not text or text.endswith(("\n", "\r")):
        return text
    cut = max(text.rfind("\n"), text.rfind("\r"))
    line = lines + text.count("\n") + 1
    log.problem(
        "incomplete",
        f"{log.path}:{line}: the last line has no newline yet (still being written?); not read",
    )
    return text[: cut + 1]


def read_csv_stream(path: str | Path, batch: int | None = None) -> RawLog:
    """:func:`traindx.readers.csvlog.read_csv`, ``batch`` bytes at a time."""
    src = str(path)
    log = RawLog(path=src)
    batch = max(16, int(batch or BATCH_BYTES))
    header: list[str] = []
    delim = ","
    lines = 0  # lines of the text before this batch
    parts: list[Columns] = []
    f = open_binary(path, src)
    with f:
        pending = b""
        first = True
        while True:
            more = read_bytes(f, src, batch)
            data = pending + more
            if not more:  # the end: what is left, less a line still being written
                text = data.decode("utf-8-sig" if first else "utf-8", "replace")
                text = complete_lines(log, text) if first else _last_lines(log, text, lines)
                pending = b""
            else:
                used = _cut(data)
                if not used:
                    pending = data
                    continue
                text = data[:used].decode("utf-8-sig" if first else "utf-8", "replace")
                pending = data[used:]
            if text:
                known = bool(header)
                h, rows, row_lines, d = _read_table(
                    src, text, log, header=header or None, delim=delim, line0=lines
                )
                if not known:
                    header, delim = h, d
                if rows:
                    parts.append(parse_rows(header, rows, row_lines, delim))
                del rows, row_lines
                lines += text.count("\n") or text.count("\r")
                first = False
            if not more:
                break
    if not parts:
        log.records = 0
        return log
    return columns_to_log(log, header, join_columns(parts))

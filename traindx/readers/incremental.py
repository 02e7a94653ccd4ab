"""Follow log files while they are written: read only what was appended since the last read.

Each followed file keeps its byte offset; a read takes the bytes from there to the end of
the file and consumes the complete records (event records, CSV rows, JSON lines) among
them. An incomplete last record or line stays unconsumed and is read again, whole, next
time. What was parsed is kept (decoded points for event files, split rows for CSV, parsed
objects for JSONL); :meth:`Tail.log` assembles the file's RawLog from it.

A file that shrinks below the offset (truncated and rewritten) or is replaced by another
file of the same name (new inode) is read again from byte 0; the points read before are
dropped and the restart is counted as a ``truncated`` problem of the file.

Event files, CSV and JSONL are followed; other kinds are read whole each time
(:func:`traindx.readers._read_file`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import ReadError
from traindx.readers.raw import RawHistogram, RawLog, RawSeries
from traindx.schema import IngestProblem

FOLLOWED_KINDS = ("tfevents", "csv", "jsonl")


class Tail:
    """One file followed by byte offset (subclasses parse what it appends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self.offset = 0  # bytes consumed
        self.ident: tuple[int, int] | None = None  # (device, inode) of the file followed
        self.restarts = 0
        self.pending = 0  # bytes after the offset that do not yet make a complete record
        self.bytes_read = 0  # every byte this tail read from disk (the test of "appended only")
        self._reset()

    def _reset(self) -> None:
        raise NotImplementedError

    def _consume(self, data: bytes) -> int:
        """Parse complete records at the start of ``data`` (the bytes at ``offset``); return
        how many bytes they took."""
        raise NotImplementedError

    def _assemble(self, log: RawLog) -> None:
        raise NotImplementedError

    def poll(self) -> bool:
        """Read what was appended; True when complete records were consumed."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                ident = (st.st_dev, st.st_ino)
                if self.ident is not None and (ident != self.ident or st.st_size < self.offset):
                    self.restarts += 1
                    self.offset = 0
                    self._reset()
                self.ident = ident
                if st.st_size == self.offset:
                    self.pending = 0
                    return False
                f.seek(self.offset)
                return self._read_from(f)
        except FileNotFoundError:
            raise ReadError(self.name, "no such file (removed while being followed)") from None
        except OSError as e:
            raise ReadError(self.name, f"cannot read ({e.strerror or e})") from None

    def _read_from(self, f) -> bool:
        """Consume what ``f`` holds from ``offset`` on (all of it, at once)."""
        data = f.read()
        self.bytes_read += len(data)
        used = self._consume(data)
        self.offset += used
        self.pending = len(data) - used
        return used > 0

    def log(self) -> RawLog:
        """Everything read from the file so far, as one RawLog (after reading what is new)."""
        self.poll()
        log = RawLog(path=self.name)
        self._assemble(log)
        if self.restarts:
            log.problems.append(IngestProblem.model_construct(
                kind="truncated", file=self.name, count=self.restarts,
                message=f"{self.name}: the file shrank or was replaced while being followed "
                f"({self.restarts} time(s)); read again from the start, earlier points dropped",
            ))  # fmt: skip
        if self.pending:
            log.problem("incomplete", f"{self.name}: the last {self.pending} byte(s) are not a "
                        "complete record yet (still being written?); not read")  # fmt: skip
        return log


def _lines_end(data: bytes) -> int:
    """Bytes of ``data`` up to and including its last line break."""
    return max(data.rfind(b"\n"), data.rfind(b"\r")) + 1


class EventTail(Tail):
    """A TensorBoard event file: complete TFRecords are decoded once; their points kept."""

    def _reset(self) -> None:
        self.parts: list[RawLog] = []
        self.plugins: dict[str, str] = {}  # TF2 names a tag's plugin on its first value only
        self.markers: list[int] = []  # the record-start bytes of the file

    #: bytes read per piece (a long file's first read: memory bounded as in
    #: :mod:`traindx.readers.tfevents.stream`)
    chunk = 1 << 24

    def _read_from(self, f) -> bool:
        """Consume what was appended, a piece at a time (damage across the end of a piece is
        carried to the next; only the last piece is read as the end of the file)."""
        pending = b""
        used_any = False
        while True:
            more = f.read(self.chunk)
            self.bytes_read += len(more)
            data = pending + more
            if not data:
                break
            final = len(more) < self.chunk  # (an empty read: what is left, as the end)
            used = self._consume(data, final=final)
            self.offset += used
            used_any |= used > 0
            pending = data[used:]
            if final:
                break
        self.pending = len(pending)
        return used_any

    def _consume(self, data: bytes, final: bool = True) -> int:
        from traindx.readers.tfevents.reader import decode_events

        n = len(data)
        buf = np.zeros((n + 64) // 8 * 8, dtype=np.uint8)
        buf[:n] = np.frombuffer(data, dtype=np.uint8)
        part, used = decode_events(self.name, buf, 0, n, self.plugins, origin=self.offset,
                                   final=final, markers=self.markers)  # fmt: skip
        part.problems = [p for p in part.problems if p.kind != "incomplete"]
        if part.records or part.problems or part.dropped_records:
            self.parts.append(part)
        return used

    def _assemble(self, log: RawLog) -> None:
        series: dict[str, list[RawSeries]] = {}
        hists: dict[str, list[RawHistogram]] = {}
        for part in self.parts:
            log.records += part.records
            log.dropped_records += part.dropped_records
            log.problems.extend(part.problems)
            log.hyperparameters.update(part.hyperparameters)  # TensorBoard's hparams plugin
            for s in part.series:
                series.setdefault(s.name, []).append(s)
            for h in part.histograms:
                hists.setdefault(h.name, []).append(h)
        for name, got in series.items():
            walls = [s.wall_time for s in got]
            log.series.append(RawSeries(
                name=name, steps=np.concatenate([s.steps for s in got]),
                values=np.concatenate([s.values for s in got]), source=self.name, unit=got[0].unit,
                wall_time=None if any(w is None for w in walls) else np.concatenate([w for w in walls if w is not None]),
            ))  # fmt: skip
        for name, hgot in hists.items():
            log.histograms.append(RawHistogram(
                name=name, steps=np.concatenate([h.steps for h in hgot]),
                stats=np.concatenate([h.stats for h in hgot]), source=self.name,
            ))  # fmt: skip
        if len(self.parts) > 1:  # one decoded part per poll: merged once, kept merged
            self.parts = [_copy_log(log)]


def _copy_log(log: RawLog) -> RawLog:
    # copies of the series: the run builder lets go of a series' wall times once ordered
    return RawLog(path=log.path, series=[replace(s) for s in log.series], histograms=list(log.histograms),
                  records=log.records, dropped_records=log.dropped_records,
                  problems=[p for p in log.problems if p.kind not in ("truncated", "incomplete")],
                  hyperparameters=dict(log.hyperparameters))  # fmt: skip


class CsvTail(Tail):
    """A metrics table: the header once, then each appended row split once."""

    def _reset(self) -> None:
        self.header: list[str] = []
        self.delim = ","
        self.lines = 0  # lines consumed
        self.rows: list[list[str]] = []
        self.row_lines: list[int] = []
        self.problems: list[IngestProblem] = []

    def _consume(self, data: bytes) -> int:
        from traindx.readers.csvlog import _read_table

        used = _lines_end(data)
        if not used:
            return 0
        text = data[:used].decode("utf-8-sig" if self.offset == 0 else "utf-8", errors="replace")
        part = RawLog(path=self.name)
        header, rows, lines, delim = _read_table(
            self.name, text, part, header=self.header, delim=self.delim, line0=self.lines
        )
        self.header, self.delim = header, delim
        self.rows.extend(rows)
        self.row_lines.extend(lines)
        self.problems.extend(part.problems)
        self.lines += text.count("\n") or text.count("\r")
        return used

    def _assemble(self, log: RawLog) -> None:
        from traindx.readers.csvcolumns import table_to_log

        log.problems.extend(self.problems)
        if self.rows:
            table_to_log(log, self.header, self.rows, self.row_lines, self.delim)


class JsonlTail(Tail):
    """JSON lines: each appended line parsed once."""

    def _reset(self) -> None:
        self.lines = 0
        self.records: list[tuple[int, dict[str, Any]]] = []
        self.bad: list[tuple[int, str]] = []

    def _consume(self, data: bytes) -> int:
        from traindx.readers.jsonl import parse_line

        used = data.rfind(b"\n") + 1
        if not used:
            return 0
        text = data[:used].decode("utf-8-sig" if self.offset == 0 else "utf-8", errors="replace")
        for line in text.split("\n")[:-1]:
            self.lines += 1
            if line.strip():
                got = parse_line(line)
                if isinstance(got, str):
                    self.bad.append((self.lines, got))
                else:
                    self.records.append((self.lines - 1, got))
        return used

    def _assemble(self, log: RawLog) -> None:
        from traindx.readers.jsonl import count_bad_lines, records_to_log

        if count_bad_lines(self.name, self.records, self.bad, log):
            records_to_log(self.name, self.records, log)


_TAILS: dict[str, type[Tail]] = {"tfevents": EventTail, "csv": CsvTail, "jsonl": JsonlTail}


class Follower:
    """The tails of every file a watched tree has shown; :meth:`read` is a
    :data:`traindx.readers.FileReader` for :func:`traindx.readers.read`."""

    def __init__(self) -> None:
        self.tails: dict[Path, Tail] = {}

    def read(self, path: Path, kind: str) -> RawLog:
        from traindx.readers import _read_file

        cls = _TAILS.get(kind)
        if cls is None:  # HF trainer_state.json and the like are rewritten whole anyway
            return _read_file(path, kind)
        tail = self.tails.get(path)
        if not isinstance(tail, cls):
            tail = self.tails[path] = cls(path)
        return tail.log()

    def forget_missing(self) -> None:
        """Drop the tails of files that no longer exist (a rotated-away event file)."""
        for path in [p for p in self.tails if not p.exists()]:
            del self.tails[path]

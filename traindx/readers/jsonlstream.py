"""JSON-lines logs read in batches, their points kept in compact columns.

Which key is the x axis (the first step key any line has, else ``epoch``, else the line
index) and which is the wall time is only known once every line was seen, so each batch's
lines are parsed and folded into :class:`Points` at once: per key, the ordinal of each record
holding a number there and that number (16 bytes a point), and, for the keys that could be
the x axis or the wall time, their values per record. :meth:`Points.finish` then picks the
keys as a whole-file read does and lays out the series. The same fold serves a whole list
of records (:func:`traindx.readers.jsonl.records_to_log`: HF trainer_state, MMDetection, the
lines ``traindx watch`` kept), so there is one definition of how records become series.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import ReadError
from traindx.names import is_bookkeeping
from traindx.ranks import TIMING
from traindx.readers.csvlog import WALL_COLUMNS, complete_lines, open_binary, read_bytes
from traindx.readers.raw import RawLog, RawSeries

#: Bytes of text read per batch.
BATCH_BYTES = 1 << 22


class _Col:
    """Numbers appended in Python lists per batch, kept as arrays between batches."""

    __slots__ = ("dtypes", "lists", "parts")

    def __init__(self, *dtypes) -> None:
        self.dtypes = dtypes
        self.lists: tuple[list, ...] = tuple([] for _ in dtypes)
        self.parts: list[tuple[np.ndarray, ...]] = []

    def seal(self) -> None:
        if self.lists[0]:
            self.parts.append(
                tuple(np.array(x, dtype=d) for x, d in zip(self.lists, self.dtypes, strict=True))
            )
            for x in self.lists:
                x.clear()

    def arrays(self) -> tuple[np.ndarray, ...]:
        self.seal()
        if not self.parts:
            return tuple(np.zeros(0, dtype=d) for d in self.dtypes)
        if len(self.parts) == 1:
            return self.parts[0]
        return tuple(np.concatenate(c) for c in zip(*self.parts, strict=True))


class Points:
    """Records folded into columns (see the module's docstring)."""

    def __init__(self) -> None:
        from traindx.readers.jsonl import EPOCH_KEYS, STEP_KEYS

        self.axis_names = {n.lower() for n in STEP_KEYS + EPOCH_KEYS}
        self.wall_names = {n.lower() for n in WALL_COLUMNS}
        self.keys: dict[str, str] = {}  # lower-case key -> its last spelling (as a dict would)
        self.nrec = 0
        self.index = _Col(np.int64)  # line (or entry) index of each record
        self.points: dict[str, _Col] = {}  # key -> (record ordinal, value), first number first
        self.bad: dict[str, list] = {}  # key -> [count, line, value text] of non-numbers
        self.axis: dict[str, _Col] = {}  # possible x key -> (ordinal, step, fractional)
        self.walls: dict[str, _Col] = {}  # possible wall key -> (ordinal, wall)

    def add(self, records: list[tuple[int, dict[str, Any]]]) -> None:
        from traindx.readers.jsonl import _BAD, _FRACTIONAL, _number, _step

        keys, points, bad, index = self.keys, self.points, self.bad, self.index.lists[0]
        for line, rec in records:
            i = self.nrec
            self.nrec += 1
            index.append(line)
            for name, raw in rec.items():
                low = name.lower()
                keys[low] = name
                if low in self.axis_names:
                    st = _step(raw)
                    if st is not None:
                        c = self.axis.get(name) or self.axis.setdefault(
                            name, _Col(np.int64, np.int64, bool)
                        )
                        frac = st is _FRACTIONAL
                        c.lists[0].append(i)
                        c.lists[1].append(0 if frac else st)
                        c.lists[2].append(frac)
                v = _number(raw)
                if low in self.wall_names:
                    c = self.walls.get(name) or self.walls.setdefault(
                        name, _Col(np.int64, np.float64)
                    )
                    c.lists[0].append(i)
                    c.lists[1].append(v if isinstance(v, float) else np.nan)
                if v is _BAD:
                    b = bad.get(name)
                    if b is None:
                        bad[name] = [1, line + 1, json.dumps(raw)[:40]]
                    else:
                        b[0] += 1
                elif v is not None:
                    c = points.get(name) or points.setdefault(name, _Col(np.int64, np.float64))
                    c.lists[0].append(i)
                    c.lists[1].append(v)
        for c in (self.index, *self.points.values(), *self.axis.values(), *self.walls.values()):
            c.seal()

    def _first_key(self, names: tuple[str, ...]) -> str | None:
        return next((self.keys[n] for n in names if n in self.keys), None)

    def _x_axis(self, src: str, log: RawLog) -> tuple[str | None, np.ndarray, str]:
        """The x key (None: line index), one integer step per record, and the unit."""
        from traindx.readers.jsonl import EPOCH_KEYS, STEP_KEYS

        (line_index,) = self.index.arrays()
        for names, unit in ((STEP_KEYS, "step"), (EPOCH_KEYS, "epoch")):
            key = self._first_key(names)
            if key is None:
                continue
            c = self.axis.get(key)
            at, st, frac = (
                c.arrays() if c is not None else (np.zeros(0, np.int64),) * 2 + (np.zeros(0, bool),)
            )
            if frac.any():
                log.problem(
                    "note",
                    f"{src}: '{key}' has fractional values; the line index is used as the step",
                )
                return None, line_index, "step"
            missing = np.ones(self.nrec, dtype=bool)
            missing[at] = False
            x = np.zeros(self.nrec, dtype=np.int64)
            x[at] = st
            if missing.any():  # a record without a step: logged at the previous record's step
                log.problem(
                    "note",
                    f"{src}:{int(line_index[int(np.argmax(missing))]) + 1}: no number in '{key}' "
                    f"({int(missing.sum())} lines); values placed at the previous line's step",
                )
                last = np.maximum.accumulate(np.where(missing, -1, np.arange(x.size)))
                x = np.where(last >= 0, x[np.maximum(last, 0)], 0)
            return key, x, unit
        return None, line_index, "step"

    def finish(self, src: str, log: RawLog) -> RawLog:
        """The series of every record folded in, as a whole-file read lays them out."""
        from traindx.readers.jsonl import EPOCH_KEYS, HINT
        from traindx.readers.timeaxis import epochs_done

        x_key, steps, unit = self._x_axis(src, log)
        wall_key = self._first_key(WALL_COLUMNS)
        wall = None
        if wall_key is not None:
            wall = np.full(self.nrec, np.nan)
            c = self.walls.get(wall_key)
            if c is not None:
                at, w = c.arrays()
                wall[at] = w
        if x_key is None and (e := self._first_key(EPOCH_KEYS)) is not None and e in self.points:
            if (done := epochs_done([self.points[e].arrays()[1]])) is not None:  # a fractional epoch: progress
                log.flags["epochs_done"] = done
        self.points.pop(x_key, None)  # type: ignore[arg-type]
        self.bad.pop(x_key, None)  # type: ignore[arg-type]
        for name, (count, line, text) in self.bad.items():
            if name not in self.points:
                log.problem(
                    "skipped", f"{src}: key '{name}' is not numeric (line {line}: {text}); skipped"
                )
                continue
            log.dropped_records += count
            more = f" ({count} values skipped)" if count > 1 else ""
            log.problem(
                "corrupt", f"{src}:{line}: key '{name}': {text} is not a number{more}", count
            )
        for name in list(self.points):
            c = self.points.pop(name)
            if is_bookkeeping(name) and not TIMING.fullmatch(name.strip()):  # timings: stragglers
                continue
            at, values = c.arrays()
            del c
            log.series.append(
                RawSeries(name=name, steps=steps[at], values=values, source=src, unit=unit,
                          wall_time=None if wall is None else wall[at])
            )  # fmt: skip
        if not log.series:
            raise ReadError(src, f"no numeric values; {HINT}")
        return log


def read_jsonl_stream(path: str | Path, batch: int | None = None) -> RawLog:
    """:func:`traindx.readers.jsonl.read_jsonl`, ``batch`` bytes of lines at a time."""
    from traindx.readers.jsonl import HINT, MAX_LINE_PROBLEMS, Summaries, parse_line

    src = str(path)
    log = RawLog(path=src)
    batch = max(16, int(batch or BATCH_BYTES))
    pts = Points()
    bad: list[tuple[int, str]] = []  # the first corrupt lines (line, why)
    nbad = 0
    summaries, last = Summaries(), dict[str, Any]()
    lines = 0  # lines before this batch
    f = open_binary(path, src)
    with f:
        pending, first = b"", True
        while True:
            more = read_bytes(f, src, batch)
            data = pending + more
            if more:
                used = data.rfind(b"\n") + 1
                if not used:
                    pending = data
                    continue
                text, pending = (
                    data[:used].decode("utf-8-sig" if first else "utf-8", "replace"),
                    data[used:],
                )
            else:
                text = data.decode("utf-8-sig" if first else "utf-8", "replace")
                text = complete_lines(log, text) if first else _last_lines(log, text, lines)
            records: list[tuple[int, dict[str, Any]]] = []
            for k, line in enumerate(text.split("\n")):
                if not line.strip() or summaries.skips(line, lines + k):
                    continue
                if (block := summaries.new(last)) is not None:
                    records.append(block)
                got = parse_line(line)
                if isinstance(got, str):
                    nbad += 1
                    if len(bad) < MAX_LINE_PROBLEMS:
                        bad.append((lines + k + 1, got))
                else:
                    records.append((lines + k, got))
                    last.update(got)
            if not more and (block := summaries.new(last)) is not None:
                records.append(block)
            pts.add(records)
            del records
            lines += text.count("\n")
            first = False
            if not more:
                break
    if not pts.nrec:
        if not nbad:  # nothing logged yet
            return log
        raise ReadError(src, f"no line is a JSON object ({bad[0][1]}); {HINT}", line=bad[0][0])
    log.records = pts.nrec + nbad
    log.dropped_records += nbad
    for at, msg in bad:
        log.problem("corrupt", f"{src}:{at}: not a JSON object ({msg}); line skipped", 1)
    if nbad > MAX_LINE_PROBLEMS:
        log.problem(
            "corrupt",
            f"{src}: {nbad - MAX_LINE_PROBLEMS} more corrupt lines skipped",
            nbad - MAX_LINE_PROBLEMS,
        )
    return pts.finish(src, log)


def _last_lines(log: RawLog, text: str, lines: int) -> str:
    from traindx.readers.csvstream import _last_lines as last

    return last(log, text, lines)

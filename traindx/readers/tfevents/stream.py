"""Event files read in pieces: memory bounded by the points kept, not by the file's bytes.

A file is read ``CHUNK_BYTES`` at a time into one reused buffer; each piece is framed, its
CRCs checked and its records decoded as a whole file would be (:func:`.reader.decode_events`
with ``final=False``), and what a piece leaves unconsumed (an incomplete last record, or
damage whose next valid record is not in the piece yet) is carried to the front of the buffer
for the next one. A record or a damaged stretch longer than the buffer doubles it, so a
piece always makes progress (a pathological file of one huge damaged stretch costs its size).

Decoded points go to compact per-tag columns: int64 steps, float64 values and float64 wall
times (24 bytes a point), each growing in blocks that double its size and joined once at the
end, one column at a time, each block let go once copied. Wall times only order
points whose steps go back (:func:`traindx.ordering.order_points`); the run builder lets
go of them once a series is ordered (16 bytes a point from there on).

What reading in pieces changes: nothing in the points read; problem messages name file
offsets as before, but damage is reported per piece (a file damaged in many places may
report one "failed the data checksum" line per piece instead of one in all), and the
number of records lost in a damaged stretch is estimated from the record sizes of its own
piece.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from traindx.readers.raw import RawHistogram, RawLog, RawSeries
from traindx.readers.tfrecord.framing import read_into

#: Bytes read per piece. Decoding a piece takes about 4 times its size in temporaries
#: (index columns per record), so this bounds the working memory beside the points kept.
CHUNK_BYTES = 1 << 24
_PAD = 64  # zero bytes after the data (the decoders read whole words past a record's end)


class _Column:
    """A growing column of numbers in blocks that double the total (no copy while it
    grows; blocks of 32 MiB and more are their own mappings, returned when freed)."""

    def __init__(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.blocks: list[np.ndarray] = []
        self.fill = 0  # used in the last block
        self.n = 0

    def append(self, a: np.ndarray) -> None:
        a = np.asarray(a, dtype=self.dtype)
        while a.size:
            if not self.blocks or self.fill == self.blocks[-1].size:
                self.blocks.append(np.empty(max(4096, self.n), dtype=self.dtype))
                self.fill = 0
            b = self.blocks[-1]
            k = min(b.size - self.fill, a.size)
            b[self.fill : self.fill + k] = a[:k]
            self.fill += k
            self.n += k
            a = a[k:]

    def join(self) -> np.ndarray:
        """The column as one array; its blocks are let go one by one as they are copied."""
        if len(self.blocks) == 1:
            out = self.blocks.pop()[: self.n].copy()
        else:
            out = np.empty(self.n, dtype=self.dtype)
            at = 0
            while self.blocks:
                b = self.blocks.pop(0)
                k = min(b.size, self.n - at)
                out[at : at + k] = b[:k]
                at += k
                del b
        self.n = self.fill = 0
        return out


class _Tag:
    __slots__ = ("steps", "values", "walls", "source", "unit")

    def __init__(self, s: RawSeries) -> None:
        self.steps, self.values = _Column(np.int64), _Column(np.float64)
        self.walls: _Column | None = _Column(np.float64)
        self.source, self.unit = s.source, s.unit


class _Columns:
    """Per-tag columns of decoded points and pieces of histograms, in first-appearance order."""

    def __init__(self) -> None:
        self.series: dict[str, _Tag] = {}
        self.hists: dict[str, list[RawHistogram]] = {}

    def add(self, part: RawLog, log: RawLog) -> None:
        log.records += part.records
        log.dropped_records += part.dropped_records
        log.problems.extend(part.problems)
        log.hyperparameters.update(part.hyperparameters)
        for s in part.series:
            t = self.series.get(s.name)
            if t is None:
                t = self.series[s.name] = _Tag(s)
            t.steps.append(s.steps)
            t.values.append(s.values)
            if s.wall_time is None:
                t.walls = None
            elif t.walls is not None:
                t.walls.append(s.wall_time)
        for h in part.histograms:
            self.hists.setdefault(h.name, []).append(h)

    def finish(self, log: RawLog) -> None:
        """Join each tag's columns into ``log``, one column at a time."""
        for name in list(self.series):
            t = self.series.pop(name)
            steps, values = t.steps.join(), t.values.join()
            wall = t.walls.join() if t.walls is not None else None
            log.series.append(
                RawSeries(name=name, steps=steps, values=values, source=t.source, unit=t.unit,
                          wall_time=wall)
            )  # fmt: skip
        for name in list(self.hists):
            hgot = self.hists.pop(name)
            log.histograms.append(
                RawHistogram(name=name, steps=np.concatenate([h.steps for h in hgot]).astype(np.int64),
                             stats=np.concatenate([h.stats for h in hgot]), source=hgot[0].source)
            )  # fmt: skip


def read_stream(f: io.RawIOBase | io.BufferedIOBase, name: str, chunk: int | None = None) -> RawLog:
    """Every scalar and histogram of the event file open as ``f`` (binary, at its start),
    read ``chunk`` (default :data:`CHUNK_BYTES`) bytes at a time."""
    from traindx.readers.tfevents.reader import decode_events

    chunk = max(64, int(chunk or CHUNK_BYTES))
    log = RawLog(path=name)
    cols = _Columns()
    plugins: dict[str, str] = {}
    markers: list[int] = []
    import os

    try:  # a small file gets a buffer of its size (read in one piece, as a whole file)
        size = os.fstat(f.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        size = chunk
    cap = max(64, min(chunk, size + 8))
    buf = np.zeros((cap + 7) // 8 * 8 + _PAD, dtype=np.uint8)
    carry = 0  # bytes at the front of buf not consumed yet
    origin = 0  # file offset of buf[0]
    while True:
        room = buf.size - _PAD - carry
        got = read_into(f, buf, carry, room)
        n = carry + got
        final = got < room
        buf[n : n + _PAD] = 0
        part, used = decode_events(
            name, buf, 0, n, plugins, origin=origin, final=final, markers=markers
        )
        cols.add(part, log)
        del part
        if final:
            break
        if used == 0:  # a record or damaged stretch longer than the buffer: double it
            bigger = np.zeros(max(2 * (buf.size - _PAD), chunk) + _PAD, dtype=np.uint8)
            bigger[:n] = buf[:n]
            buf = bigger
            carry = n
            continue
        carry = n - used
        if carry:
            buf[:carry] = buf[used:n].copy()
        origin += used
    cols.finish(log)
    return log


def read_path(path: str | Path, chunk: int | None = None) -> RawLog:
    """:func:`read_stream` of a file by name."""
    with open(path, "rb", buffering=0) as f:
        return read_stream(f, str(path), chunk)

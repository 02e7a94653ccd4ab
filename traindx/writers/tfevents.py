"""A small TensorBoard event-file writer: pure Python and numpy, no protobuf library.

Writes ``events.out.tfevents.<time>.<host>.traindx`` files that TensorBoard reads: a first
``file_version: "brain.Event:2"`` event, then ``Event{wall_time, step, summary}`` records with
``simple_value`` scalars, ``HistogramProto`` histograms or text-plugin tensors, each framed as a TFRecord (length,
masked CRC32C of the length, data, masked CRC32C of the data).  Records are buffered in
memory and written by :meth:`EventFileWriter.flush` (called when the buffer grows large and
on :meth:`~EventFileWriter.close`); the CRCs of a whole buffer are computed in one
vectorised pass.
"""

from __future__ import annotations

import math
import os
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from traindx.readers import tfrecord as tfr

_FLUSH_BYTES = 1 << 20
_FLUSH_RECORDS = 20000


# --------------------------------------------------------------------------- encoding


def _varint(v: int) -> bytes:
    if v < 0:
        v += 1 << 64  # int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _len_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _double_field(field: int, v: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", v)


def _event(
    wall_time: float,
    step: int | None = None,
    summary: bytes | None = None,
    file_version: str | None = None,
) -> bytes:
    out = _double_field(1, wall_time)
    if step:  # proto3: zero is the default and is not written
        out += _key(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _len_field(3, file_version.encode())
    if summary is not None:
        out += _len_field(5, summary)
    return out


def _scalar_value(tag: str, value: float) -> bytes:
    return _len_field(1, _len_field(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value))


def _text_value(tag: str, text: str) -> bytes:
    """A text-plugin summary value: ``SummaryMetadata{plugin_data{plugin_name: "text"}}`` and a
    scalar ``TensorProto{dtype: DT_STRING, tensor_shape: {}, string_val: [text]}`` (what
    ``tf.summary.text`` writes; TensorBoard's Text tab renders it as Markdown)."""
    metadata = _len_field(1, _len_field(1, b"text"))
    tensor = _key(1, 0) + _varint(7) + _len_field(2, b"") + _len_field(8, text.encode("utf-8"))
    return _len_field(1, _len_field(1, tag.encode()) + _len_field(9, metadata) + _len_field(8, tensor))


def _histogram_proto(values: np.ndarray, bins: int = 30) -> bytes:
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = v[np.isfinite(v)]
    num = v.size
    if num:
        vmin, vmax = float(v.min()), float(v.max())
        s, ss = float(v.sum()), float(np.dot(v, v))
    else:
        vmin = vmax = s = ss = 0.0
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if lo == hi:
            edges = (
                np.array([lo - 0.5, hi + 0.5]) if lo == 0 else np.array([lo - abs(lo) * 1e-3, hi])
            )
            counts = np.array([float(finite.size)])
        else:
            counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
            counts = counts.astype(np.float64)
        limits = edges[1:]
    else:
        limits, counts = np.array([0.0]), np.array([0.0])
    out = b""
    for field, val in ((1, vmin), (2, vmax), (3, float(num)), (4, s), (5, ss)):
        if val != 0.0 or math.isnan(val):
            out += _double_field(field, val)
    out += _len_field(6, limits.astype("<f8").tobytes())
    out += _len_field(7, counts.astype("<f8").tobytes())
    return out


def frame_records(payloads: list[bytes]) -> bytes:
    """TFRecord framing of ``payloads``, all CRCs computed in one vectorised pass."""
    if not payloads:
        return b""
    lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=len(payloads))
    data = np.frombuffer(b"".join(payloads) + b"\0" * 8, dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    dcrc = tfr.mask_crc(tfr.crc32c_ranges(data, starts, lengths)).tolist()
    small = lengths < 65536
    hcrc = np.zeros(lengths.size, dtype=np.int64)
    hcrc[small] = tfr._header_table()[lengths[small]]
    for i in np.flatnonzero(~small).tolist():
        hcrc[i] = tfr.masked_crc32c(struct.pack("<Q", int(lengths[i])))
    pieces = []
    for p, ln, hc, dc in zip(payloads, lengths.tolist(), hcrc.tolist(), dcrc, strict=True):
        pieces.append(struct.pack("<QI", ln, hc))
        pieces.append(p)
        pieces.append(struct.pack("<I", dc))
    return b"".join(pieces)


# ----------------------------------------------------------------------------- writer


class EventFileWriter:
    """Write scalars and histograms to a new TensorBoard event file under ``logdir``.

    >>> with EventFileWriter("runs/a") as w:          # doctest: +SKIP
    ...     w.add_scalar("loss", 0.5, step=1)
    """

    def __init__(self, logdir: str | os.PathLike, filename_suffix: str = ""):
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        stem = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.traindx"
        path = self.logdir / (stem + filename_suffix)
        n = 0
        while True:
            try:
                self._file = open(path, "xb")  # noqa: SIM115 - closed by close()
                break
            except FileExistsError:  # another writer this second: never share a file
                n += 1
                path = self.logdir / f"{stem}.{os.getpid()}.{n}{filename_suffix}"
        self.path = path
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._closed = False
        self._append(_event(time.time(), file_version="brain.Event:2"))
        self.flush()

    # -- adding -----------------------------------------------------------------

    def _append(self, payload: bytes) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        self._pending.append(payload)
        self._pending_bytes += len(payload) + 16
        if self._pending_bytes >= _FLUSH_BYTES or len(self._pending) >= _FLUSH_RECORDS:
            self.flush()

    def _extend(self, payloads: list[bytes]) -> None:
        """:meth:`_append` of many events (the same file bytes, one call)."""
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        self._pending.extend(payloads)
        self._pending_bytes += sum(map(len, payloads)) + 16 * len(payloads)
        if self._pending_bytes >= _FLUSH_BYTES or len(self._pending) >= _FLUSH_RECORDS:
            self.flush()

    def add_scalar(self, tag: str, value: float, step: int, wall_time: float | None = None) -> None:
        """One ``simple_value`` scalar (stored as float32, as TensorBoard does)."""
        wt = time.time() if wall_time is None else float(wall_time)
        self._append(_event(wt, step, _scalar_value(tag, float(value))))

    def add_scalars(
        self, values: Mapping[str, float], step: int, wall_time: float | None = None
    ) -> None:
        """Several scalars of one step in one event (one summary value per tag)."""
        if not values:
            return
        wt = time.time() if wall_time is None else float(wall_time)
        summary = b"".join(_scalar_value(tag, float(v)) for tag, v in values.items())
        self._append(_event(wt, step, summary))

    def add_text(self, tag: str, text: str, step: int, wall_time: float | None = None) -> None:
        """A text summary (TensorBoard's Text tab; Markdown is rendered there)."""
        wt = time.time() if wall_time is None else float(wall_time)
        self._append(_event(wt, step, _text_value(tag, text)))

    def add_histogram_stats(
        self, tag: str, values, step: int, wall_time: float | None = None, bins: int = 30
    ) -> None:
        """A ``HistogramProto`` (min, max, num, sum, sum of squares, buckets) of ``values``."""
        wt = time.time() if wall_time is None else float(wall_time)
        value = _len_field(
            1, _len_field(1, tag.encode()) + _len_field(5, _histogram_proto(values, bins))
        )
        self._append(_event(wt, step, value))

    # -- output -----------------------------------------------------------------

    def flush(self) -> None:
        """Write the buffered records to the file and flush it to the OS."""
        if self._pending:
            self._file.write(frame_records(self._pending))
            self._pending = []
            self._pending_bytes = 0
        if not self._closed:
            self._file.flush()

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._file.close()

    def __enter__(self) -> EventFileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

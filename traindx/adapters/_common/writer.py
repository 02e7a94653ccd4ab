"""The run writer: canonical tags as TensorBoard event files plus context.json, flushed every few seconds; reading a run back."""

from __future__ import annotations

import math
import os
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

from traindx.arrays import unique
from traindx.context_json import dumps
from traindx.schema import RunContext

_F32 = struct.Struct("<f").pack
_F64 = struct.Struct("<d").pack
F32_MAX = float(np.finfo(np.float32).max)


def _varint(v: int) -> bytes:
    if 0 <= v < 0x80:
        return bytes((v,))
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _value_prefix(tag: str) -> bytes:
    """Summary.value{tag, simple_value=} up to the 4 float bytes (constant per tag)."""
    t = tag.encode()
    inner_len = 1 + len(_varint(len(t))) + len(t) + 1 + 4
    return b"\x0a" + _varint(inner_len) + b"\x0a" + _varint(len(t)) + t + b"\x15"


_PREFIXES: dict[str, bytes] = {}


def _prefix(tag: str) -> bytes:
    if len(_PREFIXES) > 100_000:
        _PREFIXES.clear()
    p = _PREFIXES[tag] = _value_prefix(tag)
    return p


def encode_scalars(wall_time: float, step: int, values: dict[str, float]) -> bytes:
    """``Event{wall_time, step, summary{value{tag, simple_value}...}}`` bytes (proto3: step 0
    is not written), the same bytes as the event-file writer's ``add_scalars``."""
    pre = _PREFIXES
    summary = b"".join([(pre.get(k) or _prefix(k)) + _F32(v) for k, v in values.items()])
    head = b"\x09" + _F64(wall_time) + (b"\x10" + _varint(step) if step else b"")
    return head + b"\x2a" + _varint(len(summary)) + summary


_TEMPLATES: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, bytes]] = {}


def _template(tags: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, bytes]:
    """The summary bytes of ``tags`` with zeros for the floats, the byte positions of the
    floats in it (tags x 4), and the event's summary field header; kept per tag tuple (a
    recorder writes the same few tuples every flush)."""
    t = _TEMPLATES.get(tags)
    if t is None:
        if len(_TEMPLATES) > 256:
            _TEMPLATES.clear()
        slots = [_PREFIXES.get(tag) or _prefix(tag) for tag in tags]
        template = np.frombuffer(b"".join(p + b"\0\0\0\0" for p in slots), dtype=np.uint8)
        ends = np.cumsum([len(p) + 4 for p in slots], dtype=np.int64)
        pos = (ends - 4)[:, None] + np.arange(4, dtype=np.int64)
        t = _TEMPLATES[tags] = (template, pos.reshape(-1), b"\x2a" + _varint(template.size))
    return t


def encode_rows(
    steps: list[int], walls: list[float], tags: tuple[str, ...], values: np.ndarray
) -> list[bytes]:
    """:func:`encode_scalars` for many steps with the same tags (``values``: steps x tags),
    whole events built in numpy from a template (cached per tag tuple): the wall time's
    bytes, the step's varint (rows grouped by its length) and the float32 values, then one
    slice per event (the same bytes as :func:`encode_scalars`, several times faster)."""
    n, k = values.shape
    template, pos, tail = _template(tuple(tags))
    width = template.size
    summ = np.tile(template, (n, 1))
    summ[:, pos] = np.ascontiguousarray(values, dtype="<f4").view(np.uint8).reshape(n, 4 * k)
    st = np.asarray(steps, dtype=np.int64)
    if n and int(st.min()) < 0:  # a negative step (ten varint bytes): one event at a time
        rows = summ.tobytes()
        return [b"\x09" + _F64(w) + (b"\x10" + _varint(s) if s else b"") + tail + rows[i * width : (i + 1) * width]
                for i, (s, w) in enumerate(zip(steps, walls, strict=True))]  # fmt: skip
    wall = np.ascontiguousarray(walls, dtype="<f8").view(np.uint8).reshape(n, 8)
    nbytes = np.zeros(n, dtype=np.int64)  # the step's varint length (0: step 0, not written)
    for b in range(9):
        nbytes += st >= (1 << (7 * b)) if b else st > 0
    tail_b = np.frombuffer(tail, dtype=np.uint8)
    out: list[bytes] = [b""] * n
    for length in unique(nbytes).tolist():
        idx = np.flatnonzero(nbytes == length)
        head = 9 + (1 + length if length else 0)
        row = head + tail_b.size + width
        mat = np.empty((idx.size, row), dtype=np.uint8)
        mat[:, 0] = 0x09
        mat[:, 1:9] = wall[idx]
        if length:
            mat[:, 9] = 0x10
            s = st[idx]
            for b in range(length):
                mat[:, 10 + b] = ((s >> (7 * b)) & 0x7F) | (0x80 if b < length - 1 else 0)
        mat[:, head : head + tail_b.size] = tail_b
        mat[:, head + tail_b.size :] = summ[idx]
        blob = mat.tobytes()
        for r, i in enumerate(idx.tolist()):
            out[i] = blob[r * row : (r + 1) * row]
    return out


def default_logdir(run_name: str | None) -> Path:
    """``runs/<run_name>`` or ``runs/<date-time>`` (TensorBoard's convention)."""
    return Path("runs") / (run_name or time.strftime("%Y%m%d-%H%M%S"))


class RunWriter:
    """Event file of canonical tags plus ``context.json`` in one run directory.

    Points are handed over in batches (:meth:`add`); :meth:`maybe_flush` writes the file to
    disk and ``context.json`` (atomically, when its JSON changed) once ``flush_secs`` have
    passed.
    """

    def __init__(self, logdir: str | os.PathLike[str], flush_secs: float = 5.0):
        from traindx.writers.tfevents import EventFileWriter

        self.logdir = Path(logdir)
        self.events = EventFileWriter(self.logdir)
        # Pre-encoded events go to the writer's buffer directly (add_scalars re-encodes
        # every tag each step); any writer without that entry point gets add_scalars.
        self._append = getattr(self.events, "_append", None)
        self._extend = getattr(self.events, "_extend", None)
        self.flush_secs = float(flush_secs)
        self._last_flush = time.monotonic()
        self._context_json: str | None = None
        self.overflowed: set[str] = set()  # tags with values above float32's range, written as inf

    def _overflow(self, tags: Any) -> None:
        self.overflowed.update(tags)
        if len(self.overflowed) > 1000:  # bounded (the note names a few)
            self.overflowed = set(sorted(self.overflowed)[:1000])

    def add(self, step: int, values: dict[str, float], wall_time: float | None = None) -> None:
        if not values:
            return
        # Event files hold float32: a finite value beyond its range is written as +-inf (and
        # named in a note of context.json), never an error or a numpy overflow warning.
        big = [k for k, v in values.items() if F32_MAX < abs(v) < math.inf]
        if big:
            values = {k: (math.copysign(math.inf, v) if k in big else v) for k, v in values.items()}
            self._overflow(big)
        wt = time.time() if wall_time is None else wall_time
        if self._append is not None:
            self._append(encode_scalars(wt, step, values))
        else:
            self.events.add_scalars(values, step, wall_time=wt)

    def add_rows(
        self, steps: list[int], walls: list[float], tags: tuple[str, ...], values: np.ndarray
    ) -> None:
        """Many steps of the same tags, in step order (``values``: steps x tags)."""
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            big = np.abs(values) > F32_MAX
        big &= np.isfinite(values)
        if big.any():
            values = np.where(big, np.copysign(np.inf, values), values)
            self._overflow(t for t, b in zip(tags, big.any(axis=0).tolist(), strict=True) if b)
        if self._append is None:
            for i, s in enumerate(steps):
                self.add(s, dict(zip(tags, values[i].tolist(), strict=True)), walls[i])
            return
        payloads = encode_rows(steps, walls, tags, values)
        if self._extend is not None:  # one call for the block
            self._extend(payloads)
            return
        for payload in payloads:
            self._append(payload)

    def write_context(self, ctx: RunContext) -> None:
        from traindx.adapters._common.labelnn import drop_on_token_ids

        drop_on_token_ids(ctx)  # every adapter's context: no neighbour facts on token ids
        if self.overflowed:
            names = sorted(self.overflowed)
            note = (f"values above float32's maximum (3.4e38) recorded as inf (event files store float32): "
                    f"{', '.join(names[:10])}{f' and {len(names) - 10} more' if len(names) > 10 else ''}")  # fmt: skip
            ctx.notes[:] = [
                n for n in ctx.notes if not n.startswith("values above float32's maximum")
            ]
            ctx.notes.append(note)
        text = dumps(ctx)  # plain json: no pydantic in a short run (issue 15)
        if text is None:
            text = ctx.model_dump_json(indent=1)
        if text == self._context_json:
            return
        tmp = self.logdir / ".context.json.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.logdir / "context.json")
        self._context_json = text

    def due(self) -> bool:
        return time.monotonic() - self._last_flush >= self.flush_secs

    def flush(self) -> None:
        self.events.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.events.close()


def read_run(logdir: str | os.PathLike[str]):
    """The run written in ``logdir`` (not the runs of its sub-directories)."""
    from traindx.api import read

    root = Path(logdir).resolve()
    runs = read(root)
    for r in runs:
        if Path(r.source).resolve() == root:
            return r
    return runs[0]

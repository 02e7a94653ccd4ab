"""Event files read in pieces (traindx/readers/tfevents/stream.py) give what a whole-file
read gives, and keep reading memory bounded by the points kept (issue 14)."""

from __future__ import annotations

import io
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from fuzz_inputs import make

from traindx.errors import ReadError
from traindx.readers import tfrecord as tfr
from traindx.readers.tfevents.reader import decode_events
from traindx.readers.tfevents.stream import read_stream
from traindx.writers.tfevents import EventFileWriter

ROOT = Path(__file__).resolve().parent.parent


def whole(data: bytes, name: str = "f"):
    """The whole-file read (one piece, as before reading was streamed)."""
    buf = np.zeros((len(data) + 64) // 8 * 8, dtype=np.uint8)
    buf[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return decode_events(name, buf, 0, len(data))[0]


def pieces(data: bytes, chunk: int, name: str = "f"):
    return read_stream(io.BytesIO(data), name, chunk)


def points(log) -> dict[str, tuple[list, list]]:
    return {s.name: (s.steps.tolist(), np.asarray(s.values).tobytes()) for s in log.series}


def _same(a, b) -> None:
    assert points(a) == points(b)
    assert [h.name for h in a.histograms] == [h.name for h in b.histograms]
    for ha, hb in zip(a.histograms, b.histograms, strict=True):
        assert ha.steps.tolist() == hb.steps.tolist()
        assert np.array_equal(ha.stats, hb.stats, equal_nan=True)
    assert a.records == b.records
    assert a.hyperparameters == b.hyperparameters


FIXTURES = sorted((ROOT / "fixtures").rglob("events.out.tfevents*"))


@pytest.mark.parametrize("chunk", [4099, 1 << 16])
def test_fixture_event_files_read_the_same_in_pieces(chunk):
    assert len(FIXTURES) > 30
    for p in FIXTURES[:: max(1, len(FIXTURES) // 30)]:
        data = p.read_bytes()
        a, b = whole(data, str(p)), pieces(data, chunk, str(p))
        _same(a, b)
        assert a.dropped_records == b.dropped_records == 0, p
        assert [q.message for q in a.problems] == [q.message for q in b.problems], p


@pytest.mark.parametrize("seed", range(60))
def test_damaged_files_read_in_pieces_lose_nothing_silently(seed):
    """Fuzz cases (damaged half the time): undamaged ones read the same points in pieces;
    damaged ones read every point a whole read gets whose records are intact, and every
    record either decodes or is counted."""
    rng = random.Random(seed)
    case = make("tfevents", rng)
    chunk = rng.choice([64, 200, 1000, 5000])
    try:
        a = whole(case.data)
    except ReadError:
        with pytest.raises(ReadError):
            pieces(case.data, chunk)
        return
    b = pieces(case.data, chunk)
    if not case.damaged:
        _same(a, b)
        assert a.dropped_records == b.dropped_records == 0
        return
    # Damaged: a piece boundary may change how many records a damaged stretch is estimated
    # to have held, never which intact records are read.
    assert points(a) == points(b), case.ops
    assert (a.dropped_records > 0) == (b.dropped_records > 0), case.ops
    assert a.records == b.records


def test_damage_across_piece_boundaries_is_reported_at_file_offsets(tmp_path):
    w = EventFileWriter(tmp_path)
    for s in range(3000):
        w.add_scalar("train/loss", 1.0 / (s + 1), s)
    w.close()
    data = bytearray(Path(w.path).read_bytes())
    data[40_000:40_100] = b"\xff" * 100  # destroys a couple of records' framing
    data = bytes(data)
    a, b = whole(data), pieces(data, 1024)
    assert points(a) == points(b)
    lost = [q for q in b.problems if q.kind == "corrupt"]
    assert lost and all("byte 4" in q.message for q in lost), [q.message for q in b.problems]
    assert b.dropped_records == a.dropped_records
    # A truncated tail is an incomplete last record, once, as in a whole read.
    cut = data[: len(data) - 7]
    tail = [q.kind for q in pieces(cut, 1024).problems]
    assert tail.count("incomplete") == 1 and [q.kind for q in whole(cut).problems] == tail


def test_a_record_longer_than_a_piece_grows_the_buffer(tmp_path):
    w = EventFileWriter(tmp_path)
    w.add_text("notes", "x" * 5000, 0)
    for s in range(50):
        w.add_scalar("train/loss", 0.5, s)
    w.close()
    data = Path(w.path).read_bytes()
    _same(whole(data), pieces(data, 256))


def test_garbage_file_is_not_an_event_file_in_pieces():
    data = bytes(random.Random(1).randrange(256) for _ in range(5000))
    with pytest.raises(ReadError, match="not a TFRecord file"):
        pieces(data, 512)


def _big_file(tmp_path: Path, n: int) -> Path:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from big_run import write_big

    return write_big(tmp_path / "big", n)


def test_reading_a_large_file_keeps_memory_bounded_by_the_points(tmp_path):
    """500,000 steps (24 MiB of records): the whole-file read held the file's bytes plus a
    dozen index columns per record (over 100 bytes a point at its peak); reading in pieces
    holds the points (24 bytes each, 32 while a column is joined) and one piece."""
    n = 500_000
    path = _big_file(tmp_path, n)
    data_size = path.stat().st_size
    tracemalloc.start()
    try:
        buf, base, size = tfr.load(path)
        old = decode_events(str(path), buf, base, size)[0]
        del buf
        old_peak = tracemalloc.get_traced_memory()[1]
        del old
        tracemalloc.reset_peak()
        with open(path, "rb") as f:
            new = read_stream(f, str(path), chunk=1 << 20)
        new_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(new.series) == 1 and new.series[0].steps.size == n
    bound = 32 * n + 8 * (1 << 20)  # the points while read and joined, plus one piece's work
    assert new_peak < bound, (new_peak, bound)
    print(f"peak: whole-file {old_peak / 2**20:.0f} MiB, in pieces {new_peak / 2**20:.0f} MiB")
    assert old_peak > bound, (old_peak, bound)  # what the whole-file read took
    assert new_peak < data_size + 16 * n  # less than the file's bytes plus the points


def test_following_a_file_reads_it_in_pieces_as_a_whole_read(tmp_path):
    """traindx watch's event tail reads a long first poll in pieces: the same points, and
    damage in the middle counted once, at its file offset."""
    from traindx.readers.incremental import EventTail

    w = EventFileWriter(tmp_path)
    for s in range(4000):
        w.add_scalar("train/loss", 1.0 / (s + 1), s)
        if s % 7 == 0:
            w.add_scalar("val/loss", 2.0 / (s + 1), s)
    w.close()
    path = Path(w.path)
    data = bytearray(path.read_bytes())
    data[50_000:50_040] = b"\x00" * 40
    path.write_bytes(bytes(data))
    tail = EventTail(path)
    tail.chunk = 3000
    got, ref = tail.log(), whole(bytes(data), str(path))
    assert points(got) == points(ref)
    assert got.dropped_records == ref.dropped_records > 0
    assert [q.message for q in got.problems] == [q.message for q in ref.problems]
    assert tail.bytes_read == len(data) and tail.pending == 0

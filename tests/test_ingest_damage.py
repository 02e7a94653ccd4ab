"""Damage inside files is skipped and counted, never silent (issue 9, section 4).

Event files: a CRC-valid record whose value does not decode, a bogus length (CRC-valid)
mid-file, a histogram tensor whose shape claims more than its bytes. Files being written:
an unterminated last CSV/JSONL line is "not yet complete", neither read nor damage.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np

import traindx
from traindx.readers import tfrecord as tfr
from traindx.readers.csvlog import read_csv
from traindx.readers.jsonl import read_jsonl
from traindx.readers.tfevents import read_event_file
from traindx.writers import EventFileWriter
from traindx.writers.tfevents import _event, _key, _len_field, _varint, frame_records


def _loss(log):
    return next(s for s in log.series if s.name == "loss").values


def _kinds(log):
    return [p.kind for p in log.problems]


def _file(tmp_path: Path, n: int = 300) -> tuple[Path, bytes, list[int]]:
    with EventFileWriter(tmp_path / "run") as w:
        for i in range(n):
            w.add_scalar("loss", float(i), i, wall_time=float(i))
    data = w.path.read_bytes()
    offs, off = [], 0
    while off + 12 <= len(data):
        offs.append(off)
        off += 16 + struct.unpack_from("<Q", data, off)[0]
    return w.path, data, offs


def _with_length(data: bytes, off: int, length: int) -> bytes:
    raw = struct.pack("<Q", length)
    return data[:off] + raw + struct.pack("<I", tfr.masked_crc32c(raw)) + data[off + 12 :]


def test_crc_valid_record_whose_value_does_not_decode_is_counted(tmp_path):
    good = _event(
        1.0, 1, _len_field(1, _len_field(1, b"loss") + _key(2, 5) + struct.pack("<f", 1.0))
    )
    broken = _event(2.0, 2, _len_field(1, _len_field(1, b"loss") + _key(2, 5) + b"\x00\x00"))
    meta = _len_field(9, _len_field(1, _len_field(1, b"scalars")))
    not_scalar = _key(1, 0) + _varint(1) + _len_field(2, _len_field(2, _key(1, 0) + _varint(5)))
    fake = _event(3.0, 3, _len_field(1, _len_field(1, b"loss") + _len_field(8, not_scalar) + meta))
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(frame_records([good, broken, fake, good]))
    log = read_event_file(path)
    assert _loss(log).tolist() == [1.0, 1.0]
    (p,) = log.problems
    assert p.kind == "corrupt" and p.count == 2 and log.dropped_records == 2


def test_bogus_length_past_the_end_resynchronizes(tmp_path):
    path, data, offs = _file(tmp_path)
    path.write_bytes(_with_length(data, offs[100], 10**9))  # its length CRC checks
    log = read_event_file(path)
    assert len(_loss(log)) == 299  # not 99: the read goes on after the damage
    assert _kinds(log) == ["corrupt"] and log.dropped_records == 1
    assert "past the end" in log.problems[0].message


def test_bogus_length_inside_the_file_does_not_swallow_records(tmp_path):
    path, data, offs = _file(tmp_path)
    path.write_bytes(_with_length(data, offs[100], offs[150] - offs[100] + 7))
    log = read_event_file(path)
    assert len(_loss(log)) == 299
    assert log.dropped_records == 1 and _kinds(log) == ["corrupt"]


def test_genuinely_truncated_tail_is_incomplete_not_damage(tmp_path):
    path, data, offs = _file(tmp_path)
    path.write_bytes(data[: offs[-1] + 30])
    log = read_event_file(path)
    assert len(_loss(log)) == 299 and _kinds(log) == ["incomplete"] and log.dropped_records == 0


def test_crafted_histogram_shape_allocates_nothing_like_it_claims(tmp_path):
    shape = _len_field(2, _key(1, 0) + _varint(10**9)) + _len_field(2, _key(1, 0) + _varint(3))
    tensor = _len_field(8, _key(1, 0) + _varint(2) + _len_field(2, shape))
    meta = _len_field(9, _len_field(1, _len_field(1, b"histograms")))
    ok = _event(1.0, 1, _len_field(1, _len_field(1, b"loss") + _key(2, 5) + struct.pack("<f", 1.0)))
    path = tmp_path / "events.out.tfevents.2"
    path.write_bytes(
        frame_records([ok, _event(2.0, 2, _len_field(1, _len_field(1, b"w") + tensor + meta))])
    )
    assert path.stat().st_size < 300
    tracemalloc.start()
    try:
        log = read_event_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # the shape claims 24 GB
    assert log.histograms == [] and _kinds(log) == ["corrupt"] and len(_loss(log)) == 1


def test_half_written_csv_row_is_not_read(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_bytes(
        b"step,loss\n"
        + b"".join(b"%d,%.2f\n" % (i, 2.0 - i / 100) for i in range(100))
        + b"100,1234"
    )
    log = read_csv(path)
    loss = _loss(log)
    assert len(loss) == 100 and loss.max() <= 2.0  # '100,1234' of '100,1234.5' unread
    assert _kinds(log) == ["incomplete"] and log.dropped_records == 0


def test_half_written_jsonl_line_is_incomplete_not_corrupt(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(f'{{"step": {i}, "loss": 0.5}}\n' for i in range(10)) + '{"step": 10, "lo'
    )
    log = read_jsonl(path)
    assert len(_loss(log)) == 10 and _kinds(log) == ["incomplete"] and log.dropped_records == 0
    (run,) = traindx.read(path)
    assert run.ingest.lost() == 0


# Found by benchmarks/fuzz.py (seed 9): each failed before its fix.


def test_signalling_nan_float_reads_as_nan_without_a_warning(tmp_path):
    snan = struct.pack("<I", 0x7F800001)  # a signalling NaN: numpy warns when casting it
    rec = _event(1.0, 1, _len_field(1, _len_field(1, b"loss") + _key(2, 5) + snan))
    path = tmp_path / "events.out.tfevents.3"
    path.write_bytes(frame_records([rec]))
    log = read_event_file(path)  # pytest turns warnings into errors
    assert np.isnan(_loss(log)).all()


def test_long_cell_starting_like_a_tensor_parses_in_linear_time(tmp_path):
    import time

    from traindx.readers.csvlog import parse_number

    t = time.perf_counter()
    assert parse_number("tensor(" + "[" * 1_000_000 + ")") is None
    assert time.perf_counter() - t < 5  # the old pattern backtracked quadratically: hours
    assert parse_number("tensor(0.25, device='cuda:0', grad_fn=<MeanBackward0>)") == 0.25


def test_data_row_run_into_the_header_is_reported(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_bytes(b"epoch,val_accuracy,val_loss\x0b4,7.4,-7.1\n")  # a newline became \v
    log = read_csv(path)
    assert [p.kind for p in log.problems] == ["corrupt"] and "7.4" in log.problems[0].message

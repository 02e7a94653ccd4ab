"""Following files as they grow (traindx/readers/incremental.py): only appended bytes are
read, a half-written record or line waits for its end, a truncated or replaced file is read
again from the start (counted), and what was followed equals what a full read gives."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traindx.readers import _read_file
from traindx.readers.incremental import CsvTail, EventTail, Follower, JsonlTail
from traindx.writers.tfevents import EventFileWriter

ROOT = Path(__file__).resolve().parent.parent
#: event files of real runs: Keras/TF2 (tensor scalars whose plugin is named on a tag's
#: first value only), tensorboardX (simple values and histograms), traindx's own writer
EVENT_FIXTURES = [
    "fixtures/logs/keras/lr_schedule_bad_mlp_expdecay/train",
    "fixtures/logs/keras/lr_schedule_bad_mlp_expdecay/validation",
    "fixtures/logs/tbx/healthy_mlp_regression",
    "fixtures/logs/torch_mon/healthy_mlp_clean",
]


def _same(a, b) -> None:
    """Two RawLogs hold the same series and histograms, point for point."""
    key = lambda s: (s.name, s.unit, s.split)  # noqa: E731
    sa, sb = sorted(a.series, key=key), sorted(b.series, key=key)
    assert [key(s) for s in sa] == [key(s) for s in sb]
    for x, y in zip(sa, sb, strict=True):
        np.testing.assert_array_equal(x.steps, y.steps)
        np.testing.assert_array_equal(x.values, y.values)
    ha, hb = sorted(a.histograms, key=lambda h: h.name), sorted(b.histograms, key=lambda h: h.name)
    assert [h.name for h in ha] == [h.name for h in hb]
    for x, y in zip(ha, hb, strict=True):
        np.testing.assert_array_equal(x.steps, y.steps)
        np.testing.assert_array_equal(x.stats, y.stats)
    assert a.records == b.records and a.dropped_records == b.dropped_records


def _grow(src: Path, dst: Path, tail, cuts: list[int]) -> None:
    """Copy ``src`` to ``dst`` in pieces ending at ``cuts``, reading the tail after each;
    no byte is read twice except those of a record still incomplete at a cut."""
    data = src.read_bytes()
    done = 0
    for cut in [*sorted(cuts), len(data)]:
        with open(dst, "ab") as f:
            f.write(data[done:cut])
        done = cut
        before, start = tail.bytes_read, tail.offset
        tail.log()
        assert tail.bytes_read - before == cut - start  # from the offset to the end, no more
        assert tail.offset + tail.pending == cut
    assert tail.pending == 0 and tail.offset == len(data)


@pytest.mark.parametrize("run", EVENT_FIXTURES)
def test_event_file_followed_in_random_pieces_equals_full_read(run, tmp_path):
    src = next(p for p in sorted((ROOT / run).iterdir()) if "tfevents" in p.name)
    size = src.stat().st_size
    rng = random.Random(size)
    dst = tmp_path / src.name
    tail = EventTail(dst)
    _grow(src, dst, tail, rng.sample(range(1, size), min(12, size - 1)))
    got, want = tail.log(), _read_file(src, "tfevents")
    _same(got, want)
    assert got.series and not [p for p in got.problems if p.kind in ("incomplete", "truncated")]
    # every byte read at most twice: re-reading only the unfinished record at each cut
    assert tail.bytes_read < 2 * size


def test_event_tail_reads_only_appended_bytes(tmp_path):
    w = EventFileWriter(tmp_path)
    for i in range(50):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.flush()
    path = next(tmp_path.iterdir())
    tail = EventTail(path)
    first = tail.log()
    size1 = path.stat().st_size
    assert tail.bytes_read == size1 and len(first.series[0].steps) == 50
    for i in range(50, 80):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.flush()
    size2 = path.stat().st_size
    got = tail.log()
    assert tail.bytes_read == size2  # the first 50 records were not read again
    np.testing.assert_array_equal(got.series[0].steps, np.arange(80))
    tail.log()
    assert tail.bytes_read == size2  # nothing new: nothing read
    w.close()


def test_half_written_event_record_waits_for_its_end(tmp_path):
    src = ROOT / EVENT_FIXTURES[2]
    data = next(p for p in src.iterdir() if "tfevents" in p.name).read_bytes()
    dst = tmp_path / "events.out.tfevents.1.x"
    dst.write_bytes(data[: len(data) // 2])
    tail = EventTail(dst)
    half = tail.log()
    assert any(p.kind == "incomplete" for p in half.problems)
    assert not any(p.kind == "corrupt" for p in half.problems)
    with open(dst, "ab") as f:
        f.write(data[len(data) // 2 :])
    whole = tail.log()
    assert not any(p.kind == "incomplete" for p in whole.problems)
    assert sum(s.steps.size for s in whole.series) > sum(s.steps.size for s in half.series)


def test_truncated_file_is_read_again_and_counted(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{2.0 - i / 100}\n" for i in range(100)))
    tail = CsvTail(path)
    assert tail.log().series[0].steps.size == 100
    path.write_text(
        "step,loss\n" + "".join(f"{i},{1.0}\n" for i in range(10))
    )  # rewritten, shorter
    got = tail.log()
    np.testing.assert_array_equal(got.series[0].steps, np.arange(10))
    (problem,) = [p for p in got.problems if p.kind == "truncated"]
    assert problem.count == 1 and str(path) in problem.message


def test_replaced_file_of_the_same_name_is_read_again(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text("".join(f'{{"step": {i}, "loss": 1}}\n' for i in range(100)))
    tail = JsonlTail(path)
    tail.log()
    new = tmp_path / "new.jsonl"
    new.write_text("".join(f'{{"step": {i}, "loss": 2}}\n' for i in range(200)))  # longer
    keep = tmp_path / "keep.jsonl"
    os.link(new, keep)  # hold the inode so the replaced file's number is not reused
    os.replace(new, path)
    got = tail.log()
    assert got.series[0].values.tolist() == [2.0] * 200
    assert [p.count for p in got.problems if p.kind == "truncated"] == [1]


def test_csv_followed_row_by_row_equals_full_read(tmp_path):
    src = tmp_path / "full.csv"
    rows = ["epoch,loss,val_loss,note"] + [
        f"{e},{2.3 * 0.9**e:.5f},{2.4 * 0.92**e:.5f},{'x' if e % 7 == 0 else ''}" for e in range(40)
    ]
    rows.insert(20, "epoch,loss,val_loss,note")  # a repeated header (a resumed logger)
    text = "\n".join(rows) + "\n"
    src.write_text(text)
    dst = tmp_path / "grow.csv"
    tail = CsvTail(dst)
    cuts = [i for i, c in enumerate(text.encode()) if c == ord(",")][::9]  # mid-row cuts
    _grow(src, dst, tail, cuts)
    got, want = tail.log(), _read_file(src, "csv")
    _same(got, want)
    assert sorted(p.message.replace(str(dst), "F") for p in got.problems) == sorted(
        p.message.replace(str(src), "F") for p in want.problems
    )


def test_jsonl_followed_with_a_corrupt_line_equals_full_read(tmp_path):
    lines = [f'{{"step": {i}, "loss": {1 / (i + 1)}, "acc": {i / 50}}}' for i in range(50)]
    lines[17] = '{"step": 17, "loss": '  # a line cut by a crash, then logging went on
    text = "\n".join(lines) + "\n"
    src = tmp_path / "full.jsonl"
    src.write_text(text)
    dst = tmp_path / "grow.jsonl"
    tail = JsonlTail(dst)
    _grow(src, dst, tail, list(range(5, len(text), 97)))
    got, want = tail.log(), _read_file(src, "jsonl")
    _same(got, want)
    assert [p.message.replace(str(dst), "F") for p in got.problems] == [
        p.message.replace(str(src), "F") for p in want.problems
    ]


def test_follower_reads_other_kinds_whole_and_forgets_removed_files(tmp_path):
    f = Follower()
    csv = tmp_path / "a.csv"
    csv.write_text("step,loss\n0,1\n1,0.5\n")
    assert f.read(csv, "csv").series
    assert isinstance(f.tails[csv], CsvTail)
    csv.unlink()
    f.forget_missing()
    assert not f.tails


def _tf2_histogram_file(path: Path, steps: int) -> None:
    """Event records as TF1-style writers make them: a histogram tensor (k x 3, float64)
    whose SummaryMetadata (plugin ``histograms``) is on the tag's first value only."""
    from traindx.writers.tfevents import _event, _key, _len_field, _varint, frame_records

    plugin = _len_field(1, _len_field(1, b"histograms"))
    shape = _len_field(
        2, _len_field(2, _key(1, 0) + _varint(4)) + _len_field(2, _key(1, 0) + _varint(3))
    )
    records = [_event(1.0, file_version="brain.Event:2")]
    for step in range(steps):
        edges = np.linspace(-1, 1, 5) * (step + 1)
        table = np.stack([edges[:-1], edges[1:], [1.0, 2.0, 3.0, 4.0]], axis=1)
        tensor = _key(1, 0) + _varint(2) + shape + _len_field(4, table.astype("<f8").tobytes())
        value = _len_field(1, b"dense/kernel") + (_len_field(9, plugin) if step == 0 else b"")
        records.append(_event(2.0 + step, step, _len_field(1, value + _len_field(8, tensor))))
    path.write_bytes(frame_records(records))


def test_histograms_named_once_are_still_histograms_in_later_pieces(tmp_path):
    """A tag's plugin named on its first value only (TF1 FileWriter's habit): the pieces
    read later must still decode that tag's tensors as histograms, not lose them."""
    src = tmp_path / "events.out.tfevents.1.src"
    _tf2_histogram_file(src, 30)
    want = _read_file(src, "tfevents")
    assert [h.steps.size for h in want.histograms] == [30]
    size = src.stat().st_size
    dst = tmp_path / "events.out.tfevents.1.dst"
    tail = EventTail(dst)
    _grow(src, dst, tail, [size // 5, size // 2, 4 * size // 5])
    got = tail.log()
    _same(got, want)
    assert not any(p.kind == "corrupt" for p in got.problems)


@given(
    rows=st.lists(
        st.tuples(st.floats(allow_nan=True, width=32), st.one_of(st.none(), st.floats(-1e3, 1e3))),
        min_size=1,
        max_size=40,
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
    cuts=st.lists(st.floats(0.0, 1.0), max_size=6),
    kind=st.sampled_from(["csv", "jsonl"]),
)
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_cut_points_give_the_full_read(tmp_path_factory, rows, newline, cuts, kind):
    d = tmp_path_factory.mktemp("cut")
    if kind == "csv":
        lines = ["step,loss,val_loss"] + [
            f"{i},{a!r},{'' if b is None else repr(b)}" for i, (a, b) in enumerate(rows)
        ]
    else:
        lines = [
            json.dumps({"step": i, "loss": a, **({} if b is None else {"val_loss": b})})
            for i, (a, b) in enumerate(rows)
        ]
    data = (newline.join(lines) + newline).encode()
    src, dst = d / f"src.{kind}", d / f"dst.{kind}"
    src.write_bytes(data)
    tail = (CsvTail if kind == "csv" else JsonlTail)(dst)
    _grow(src, dst, tail, sorted({int(c * len(data)) for c in cuts} - {0, len(data)}))
    _same(tail.log(), _read_file(src, kind))

"""Metric tables read in batches (traindx/readers/csvstream.py) give what a whole-file read
gives, and hold numbers rather than the file's text (issue 14)."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from fuzz_inputs import make

from traindx.errors import ReadError
from traindx.readers.csvcolumns import table_to_log
from traindx.readers.csvlog import _read_table, complete_lines, read_text
from traindx.readers.csvstream import read_csv_stream
from traindx.readers.jsonlstream import read_jsonl_stream
from traindx.readers.raw import RawLog

ROOT = Path(__file__).resolve().parent.parent


def whole_csv(path: Path) -> RawLog:
    """The whole-file read (as read_csv was before it read in batches)."""
    log = RawLog(path=str(path))
    header, rows, lines, delim = _read_table(str(path), complete_lines(log, read_text(path)), log)
    return table_to_log(log, header, rows, lines, delim)


def summary(log: RawLog):
    series = [
        (s.name, s.unit, s.split, s.steps.tolist(), np.asarray(s.values).tobytes(),
         None if s.wall_time is None else np.asarray(s.wall_time).tobytes())
        for s in log.series
    ]  # fmt: skip
    epochs = None if log.epochs is None else (log.epochs[0].tolist(), log.epochs[1].tolist())
    return series, epochs, log.records, log.dropped_records


def _same_or_same_error(path: Path, batch: int, strict_messages: bool = True) -> None:
    try:
        a = whole_csv(path)
    except ReadError as e:
        with pytest.raises(ReadError) as got:
            read_csv_stream(path, batch)
        assert str(got.value) == str(e)
        return
    b = read_csv_stream(path, batch)
    assert summary(a) == summary(b), path
    if strict_messages:
        assert [p.message for p in a.problems] == [p.message for p in b.problems], path
    else:  # stray lines and repeated headers are reported per batch: the same kinds and counts

        def kinds(log):
            out: dict[str, int] = {}
            for p in log.problems:
                out[p.kind] = out.get(p.kind, 0) + p.count
            return out

        assert kinds(a) == kinds(b), path


CSVS = sorted(p for p in (ROOT / "fixtures").rglob("*.csv") if p.stat().st_size < 2_000_000)


@pytest.mark.parametrize("batch", [211, 1 << 14])
def test_fixture_tables_read_the_same_in_batches(batch):
    assert len(CSVS) > 10
    for p in CSVS[:: max(1, len(CSVS) // 40)]:
        _same_or_same_error(p, batch, strict_messages=False)


@pytest.mark.parametrize("seed", range(60))
def test_fuzzed_tables_read_the_same_in_batches(seed, tmp_path):
    rng = random.Random(seed)
    case = make("csv", rng)
    path = tmp_path / case.name
    path.write_bytes(case.data)
    _same_or_same_error(path, rng.choice([16, 50, 300, 5000]), strict_messages=False)


def test_incomplete_last_line_and_quoted_breaks_across_batches(tmp_path):
    rows = "".join(f'{s},{1.0 / (s + 1)},"a\nb"\n' for s in range(200))
    path = tmp_path / "m.csv"
    path.write_text("step,loss,note\n" + rows + "200,0.1")  # the last line still being written
    a, b = whole_csv(path), read_csv_stream(path, 64)
    assert summary(a) == summary(b)
    assert [p.message for p in a.problems] == [p.message for p in b.problems]
    assert any(p.kind == "incomplete" and ":402:" in p.message for p in b.problems)


def test_a_large_table_holds_numbers_not_text(tmp_path):
    n = 30_000
    path = tmp_path / "metrics.csv"
    steps = np.arange(n)
    with open(path, "w") as f:
        f.write("step,loss,lr\n")
        f.writelines(f"{s},{v:.6f},0.001\n" for s, v in zip(steps, 2.0 / (steps + 1), strict=True))
    tracemalloc.start()
    try:
        old = whole_csv(path)
        old_peak = tracemalloc.get_traced_memory()[1]
        del old
        tracemalloc.reset_peak()
        new = read_csv_stream(path, 1 << 17)
        new_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [s.steps.size for s in new.series] == [n, n]
    bound = 64 * n + 4 * (1 << 20)  # numbers per row while joined, plus one batch's rows
    print(f"peak: whole-file {old_peak / 2**20:.0f} MiB, in batches {new_peak / 2**20:.0f} MiB")
    assert new_peak < bound < old_peak, (new_peak, bound, old_peak)


# ------------------------------------------------------------------------ JSON lines


def _jsonl_same(path: Path, batch: int) -> None:
    try:
        a = read_jsonl_stream(path, path.stat().st_size + 1)  # one batch: the whole file
    except ReadError as e:
        with pytest.raises(ReadError) as got:
            read_jsonl_stream(path, batch)
        assert str(got.value) == str(e)
        return
    b = read_jsonl_stream(path, batch)
    assert summary(a) == summary(b), path
    assert [p.message for p in a.problems] == [p.message for p in b.problems], path


@pytest.mark.parametrize("seed", range(60))
def test_fuzzed_json_lines_read_the_same_in_batches(seed, tmp_path):
    rng = random.Random(seed)
    case = make("jsonl", rng)
    path = tmp_path / case.name
    path.write_bytes(case.data)
    _jsonl_same(path, rng.choice([16, 50, 300, 5000]))


def test_fixture_json_lines_read_the_same_in_batches():
    files = sorted(p for p in (ROOT / "fixtures").rglob("*.jsonl") if p.stat().st_size < 2_000_000)
    assert files
    for p in files[:: max(1, len(files) // 30)]:
        _jsonl_same(p, 257)


def test_json_lines_x_key_seen_only_in_a_later_batch(tmp_path):
    """The x axis is the first step key any line has: a key first seen late still decides."""
    path = tmp_path / "m.jsonl"
    body = "".join(f'{{"loss": {1.0 / (i + 1)}, "time": {1000 + i}}}\n' for i in range(300))
    path.write_text(
        body + '{"loss": 0.01, "step": 5000}\n{"loss": 0.009, "step": 5001, "x": "a"}\n'
    )
    a, b = read_jsonl_stream(path, path.stat().st_size + 1), read_jsonl_stream(path, 64)
    assert summary(a) == summary(b)
    loss = next(s for s in b.series if s.name == "loss")
    assert loss.steps[-1] == 5001 and loss.steps[0] == 0  # before any step: at 0, as a whole read
    assert [p.message for p in a.problems] == [p.message for p in b.problems]


def test_a_large_json_lines_log_holds_numbers_not_text(tmp_path):
    n = 20_000
    path = tmp_path / "metrics.jsonl"
    with open(path, "w") as f:
        f.writelines(
            f'{{"step": {s}, "loss": {2.0 / (s + 1):.6f}, "lr": 0.001}}\n' for s in range(n)
        )
    tracemalloc.start()
    try:
        old = read_jsonl_stream(path, path.stat().st_size + 1)
        old_peak = tracemalloc.get_traced_memory()[1]
        del old
        tracemalloc.reset_peak()
        new = read_jsonl_stream(path, 1 << 17)
        new_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [s.steps.size for s in new.series] == [n, n]
    bound = 64 * n + 4 * (1 << 20)  # numbers per point, plus one batch's parsed lines
    print(f"peak: one batch {old_peak / 2**20:.0f} MiB, in batches {new_peak / 2**20:.0f} MiB")
    assert new_peak < bound < old_peak, (new_peak, bound, old_peak)

"""TensorBoard event files: traindx's own reader and writer against the real writers/readers."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from traindx.errors import ReadError
from traindx.readers import tfrecord as tfr
from traindx.readers.tfevents import is_event_file, read_event_file
from traindx.writers import EventFileWriter
from traindx.writers.tfevents import _double_field, _event, _key, _len_field, _varint, frame_records

# --------------------------------------------------------------------------- helpers


def only_file(d: Path) -> Path:
    files = sorted(Path(d).rglob("*tfevents*"))
    assert len(files) == 1, files
    return files[0]


def series(log):
    return {s.name: s for s in log.series}


def hists(log):
    return {h.name: h for h in log.histograms}


def accumulate(path: Path):
    """TensorBoard's EventAccumulator over one file, keeping every sample."""
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ea = ea_mod.EventAccumulator(
        str(path), size_guidance={"scalars": 0, "tensors": 0, "histograms": 0}
    )
    ea.Reload()
    return ea


def assert_matches_accumulator(log, path: Path) -> None:
    """Every scalar and histogram traindx read equals what EventAccumulator keeps."""
    from tensorboard.util import tensor_util

    ea = accumulate(path)
    tags = ea.Tags()
    ours, ours_h = series(log), hists(log)
    expected: dict[str, tuple[list, list]] = {}
    for tag in tags["scalars"]:
        evs = ea.Scalars(tag)
        expected[tag] = ([e.step for e in evs], [e.value for e in evs])
    for tag in tags["tensors"]:
        evs = ea.Tensors(tag)
        arrays = [tensor_util.make_ndarray(e.tensor_proto) for e in evs]
        if tag in ours_h:
            continue
        if all(a.size == 1 and a.dtype.kind in "fiu" for a in arrays):
            expected[tag] = ([e.step for e in evs], [float(a.reshape(-1)[0]) for a in arrays])
    assert set(ours) == set(expected)
    for tag, (steps, values) in expected.items():
        np.testing.assert_array_equal(ours[tag].steps, steps)
        np.testing.assert_array_equal(ours[tag].values, np.array(values, dtype=np.float64))
        assert ours[tag].wall_time is not None and len(ours[tag].wall_time) == len(steps)
    for tag in tags["histograms"]:
        evs = ea.Histograms(tag)
        h = ours_h[tag]
        np.testing.assert_array_equal(h.steps, [e.step for e in evs])
        want = np.array([[e.histogram_value.num, e.histogram_value.sum, e.histogram_value.sum_squares,
                          e.histogram_value.min, e.histogram_value.max] for e in evs])  # fmt: skip
        np.testing.assert_allclose(h.stats, want)


def write_mixed(logdir: Path) -> Path:
    with EventFileWriter(logdir) as w:
        for s in range(20):
            w.add_scalar("loss", 1.0 / (s + 1), s, wall_time=1000.0 + s)
            w.add_scalars({"acc/top1": s / 20, "acc/top5": s / 10}, s)
            if s % 5 == 0:
                w.add_histogram_stats("weights/w1", np.linspace(-1, 1, 101) * (s + 1), s)
    return w.path


# --------------------------------------------------------------------------- CRC32C


def test_crc32c_known_value():
    assert tfr.crc32c(b"123456789") == 0xE3069283
    assert tfr.crc32c(b"") == 0


def test_crc32c_vectorised_matches_scalar():
    rng = np.random.default_rng(7)
    buf = rng.integers(0, 256, 60_000, dtype=np.uint8)
    lengths = np.concatenate(
        [
            rng.integers(0, 70, 600),
            np.full(300, 37),
            [0, 1, 2, 3, 4, 5, 1023, 1024, 1025, 5000, 20_000],
        ]
    )
    starts = rng.integers(0, buf.size - lengths, lengths.size)
    got = tfr.crc32c_ranges(buf, starts, lengths)
    want = [tfr.crc32c(buf[s : s + n].tobytes()) for s, n in zip(starts, lengths, strict=True)]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.uint32))


def test_header_table_matches_scalar():
    table = tfr._header_table()
    for n in (0, 1, 24, 255, 256, 40_000, 65_535):
        assert table[n] == tfr.masked_crc32c(struct.pack("<Q", n))


# --------------------------------------------------------------------------- our writer


def test_round_trip_own_writer(tmp_path):
    path = write_mixed(tmp_path)
    assert (
        is_event_file(path)
        and path.name.startswith("events.out.tfevents.")
        and ".traindx" in path.name
    )
    log = read_event_file(path)
    assert log.problems == [] and log.dropped_records == 0
    assert log.records == 1 + 20 * 2 + 4
    s = series(log)
    assert list(s) == ["loss", "acc/top1", "acc/top5"]  # file order
    np.testing.assert_array_equal(s["loss"].steps, np.arange(20))
    np.testing.assert_array_equal(
        s["loss"].values, np.float32(1.0 / (np.arange(20) + 1)).astype(np.float64)
    )
    np.testing.assert_array_equal(s["loss"].wall_time, 1000.0 + np.arange(20))
    np.testing.assert_array_equal(s["acc/top5"].values, np.float32(np.arange(20) / 10))
    assert s["loss"].unit == "step" and s["loss"].source == str(path)
    assert s["loss"].steps.dtype == np.int64 and s["loss"].values.dtype == np.float64
    h = hists(log)["weights/w1"]
    np.testing.assert_array_equal(h.steps, [0, 5, 10, 15])
    x = np.linspace(-1, 1, 101) * 6
    np.testing.assert_allclose(h.stats[1], [101, x.sum(), (x * x).sum(), -6, 6], atol=1e-9)


def test_own_writer_edge_values(tmp_path):
    with EventFileWriter(tmp_path, filename_suffix=".v2") as w:
        w.add_scalar("neg_step", 1.0, -3)
        w.add_scalar("big_step", 2.0, 2**40)
        w.add_scalar("nan", float("nan"), 1)
        w.add_scalar("inf", float("-inf"), 1)
        w.add_scalar("zero", 0.0, 0)
        w.add_scalar("ünïcode/τag", 5.0, 7)
        w.add_histogram_stats("empty", np.array([]), 1)
        w.add_histogram_stats("wide", np.arange(10_000.0), 2, bins=1000)  # a record > CHUNK bytes
        w.add_histogram_stats("huge", np.arange(10_000.0), 3, bins=5000)  # a record > 64 KiB
    assert w.path.name.endswith(".v2")
    log = read_event_file(w.path)
    s = series(log)
    assert s["neg_step"].steps.tolist() == [-3]
    assert s["big_step"].steps.tolist() == [2**40]
    assert np.isnan(s["nan"].values[0]) and s["inf"].values[0] == -np.inf
    assert s["zero"].values.tolist() == [0.0] and s["zero"].steps.tolist() == [0]
    assert s["ünïcode/τag"].values.tolist() == [5.0]
    h = hists(log)
    assert log.problems == [] and h["huge"].stats[0, 0] == 10_000
    assert h["empty"].stats[0, 0] == 0
    assert h["wide"].stats[0].tolist() == [
        10_000,
        np.arange(10_000.0).sum(),
        (np.arange(10_000.0) ** 2).sum(),
        0,
        9999,
    ]


def test_adapter_row_encoding_is_the_per_step_encoding():
    """The adapters' batched encoder (a cached template per tag tuple) writes the same bytes
    as encoding each step alone, for one row or many, step 0, NaN, inf and unicode tags."""
    from traindx.adapters._common.writer import encode_rows, encode_scalars

    tags = ("train/loss", "train/grad_norm@Dense_0", "ünïcode/τag", "x" * 200)
    vals = np.array([[0.5, np.nan, -np.inf, 1e-30], [2.0, 3.25, 1e30, -0.0], [np.inf, 0.0, 7.0, 1.5]])
    for n in (1, 3):
        for _ in range(2):  # the second call uses the cached template
            rows = encode_rows([0, 7, 2**40][:n], [1.5, 2.5, 3.5][:n], tags, vals[:n])
            assert rows == [encode_scalars(w, s, dict(zip(tags, v.tolist(), strict=True)))
                            for s, w, v in zip([0, 7, 2**40][:n], [1.5, 2.5, 3.5][:n], vals[:n], strict=True)]  # fmt: skip


def test_writer_flushes_large_buffers(tmp_path):
    from traindx.writers import tfevents as wmod

    n = wmod._FLUSH_RECORDS + 5000
    with EventFileWriter(tmp_path) as w:
        for i in range(n):
            w.add_scalar("x", i, i)
        # More than the buffer holds was added: a full buffer must already be on disk.
        assert w.path.stat().st_size > 16 * wmod._FLUSH_RECORDS
    log = read_event_file(w.path)
    np.testing.assert_array_equal(series(log)["x"].values, np.arange(float(n)))


@pytest.mark.tensorboardx
def test_own_writer_read_by_tensorboard(tmp_path):
    path = write_mixed(tmp_path)
    assert_matches_accumulator(read_event_file(path), path)


# --------------------------------------------------------------------------- hand-made protos


def _value(tag: str, body: bytes) -> bytes:
    return _len_field(1, _len_field(1, tag.encode()) + body)


def _tensor(dtype: int, body: bytes, shape: list[int] | None = None) -> bytes:
    shp = b"".join(_len_field(2, _key(1, 0) + _varint(d)) for d in (shape or []))
    return _len_field(8, _key(1, 0) + _varint(dtype) + _len_field(2, shp) + body)


def _meta(plugin: str) -> bytes:
    return _len_field(9, _len_field(1, _len_field(1, plugin.encode())))


def _write_records(path: Path, payloads: list[bytes]) -> Path:
    path.write_bytes(frame_records(payloads))
    return path


def test_tensor_scalar_encodings(tmp_path):
    """Single-element tensors in every encoding TF uses become scalars; others don't."""
    cases = {
        "content_f32": (_tensor(1, _len_field(4, struct.pack("<f", 1.5))), 1.5),
        "content_f64": (_tensor(2, _len_field(4, struct.pack("<d", 2.25))), 2.25),
        "content_i64": (_tensor(9, _len_field(4, struct.pack("<q", -7))), -7.0),
        "content_half": (_tensor(19, _len_field(4, np.float16(0.5).tobytes())), 0.5),
        "float_val_packed": (_tensor(1, _len_field(5, struct.pack("<f", 3.5))), 3.5),
        "float_val_unpacked": (_tensor(1, _key(5, 5) + struct.pack("<f", 4.5)), 4.5),
        "double_val": (_tensor(2, _len_field(6, struct.pack("<d", 5.5))), 5.5),
        "int_val": (_tensor(3, _key(7, 0) + _varint(-2)), -2.0),
        "int64_val_packed": (_tensor(9, _len_field(10, _varint(1 << 40))), float(1 << 40)),
        "half_val": (
            _tensor(19, _key(13, 0) + _varint(int(np.float16(0.25).view(np.uint16)))),
            0.25,
        ),
        "shape_1x1": (_tensor(1, _len_field(4, struct.pack("<f", 6.5)), shape=[1, 1]), 6.5),
        "with_meta": (_tensor(1, _len_field(4, struct.pack("<f", 7.5))) + _meta("scalars"), 7.5),
    }
    not_scalars = {
        "vector": _tensor(1, _len_field(4, struct.pack("<2f", 1, 2)), shape=[2]),
        "string": _tensor(7, _len_field(8, b"hello")),
        "text_plugin": _tensor(1, _len_field(4, struct.pack("<f", 1))) + _meta("text"),
        "image": _len_field(4, b"\x08\x01"),
    }
    payloads = [_event(1.0, file_version="brain.Event:2")]
    for step, (tag, (body, _)) in enumerate(cases.items()):
        payloads.append(_event(10.0 + step, step, _value(tag, body)))
    for tag, body in not_scalars.items():
        payloads.append(_event(50.0, 1, _value(tag, body)))
    log = read_event_file(_write_records(tmp_path / "x.tfevents", payloads))
    s = series(log)
    assert set(s) == set(cases)
    for tag, (_, want) in cases.items():
        assert s[tag].values.tolist() == [want], tag


def test_unusual_event_layouts(tmp_path):
    """Events whose fields are not where the fast path expects them still decode."""
    simple = _key(2, 5) + struct.pack("<f", 2.0)
    payloads = [
        _event(1.0, file_version="brain.Event:2"),
        # no wall_time (proto3 default 0.0): the record starts with the step
        _key(2, 0) + _varint(5) + _len_field(5, _value("a", simple)),
        # fields out of number order, an unknown varint field and an unknown fixed32 field
        _len_field(5, _value("a", simple)) + _key(2, 0) + _varint(6) + _key(99, 0) + _varint(1) + _key(98, 5) + b"abcd" + _double_field(1, 3.0),
        # many values in one summary (TF1), with a node_name field before the tag
        _double_field(1, 4.0) + _key(2, 0) + _varint(7) + _len_field(5, b"".join(_len_field(1, _len_field(7, b"node") + _len_field(1, f"t{i}".encode()) + simple) for i in range(40))),
        # a summary value without a tag
        _double_field(1, 5.0) + _key(2, 0) + _varint(8) + _len_field(5, _len_field(1, simple)),
    ]  # fmt: skip
    log = read_event_file(_write_records(tmp_path / "y.tfevents", payloads))
    assert log.problems == []
    s = series(log)
    assert s["a"].steps.tolist() == [5, 6] and s["a"].wall_time.tolist() == [0.0, 3.0]
    assert [n for n in s if n.startswith("t")] == [f"t{i}" for i in range(40)]
    assert s["t39"].steps.tolist() == [7] and s[""].steps.tolist() == [8]


def test_malformed_event_is_dropped(tmp_path):
    good = _event(1.0, 1, _value("a", _key(2, 5) + struct.pack("<f", 1.0)))
    broken = _double_field(1, 1.0) + _key(5, 2) + _varint(200) + b"short"  # length past the end
    log = read_event_file(_write_records(tmp_path / "z.tfevents", [good, broken, good]))
    assert log.dropped_records == 1 and "not valid Event" in log.problems[0].message
    assert series(log)["a"].values.tolist() == [1.0, 1.0]


def test_compiled_layouts_agree_with_generic_decoder(tmp_path, monkeypatch):
    """The fast path (records decoded by compiled byte layouts) gives exactly what the
    generic field-by-field decoder gives, including tags under non-scalar plugins."""
    from traindx.readers.tfevents import layouts

    scalar_t = _tensor(1, _len_field(4, struct.pack("<f", 0.0)))
    payloads = [_event(1.0, file_version="brain.Event:2")]
    for s in range(300):
        f = struct.pack("<f", s * 0.25)
        payloads.append(
            _event(100.0 + s, s, _value("loss", _key(2, 5) + f) + _value("acc", _key(2, 5) + f))
        )
        payloads.append(
            _event(
                100.5 + s, s, _value("tf2/scalar", _tensor(1, _len_field(4, f)) + _meta("scalars"))
            )
        )
        payloads.append(_event(100.7 + s, s, _value("hparams_", scalar_t + _meta("hparams"))))
        if s % 50 == 0:
            payloads.append(
                _event(
                    100.9 + s,
                    s,
                    _value("h", _len_field(5, _double_field(3, 2.0) + _double_field(4, s))),
                )
            )
    path = _write_records(tmp_path / "events.out.tfevents.layouts", payloads)
    fast = read_event_file(path)
    monkeypatch.setattr(layouts, "_MIN_GROUP", 10**9)
    slow = read_event_file(path)
    assert (
        [s.name for s in fast.series]
        == [s.name for s in slow.series]
        == ["loss", "acc", "tf2/scalar"]
    )
    for a, b in zip(fast.series, slow.series, strict=True):
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.wall_time, b.wall_time)
    np.testing.assert_array_equal(series(fast)["tf2/scalar"].values, np.arange(300) * 0.25)
    np.testing.assert_array_equal(hists(fast)["h"].stats, hists(slow)["h"].stats)
    assert hists(fast)["h"].stats[:, 0].tolist() == [2.0] * 6


# --------------------------------------------------------------------------- damage


def _big_file(tmp_path: Path, n: int = 300) -> tuple[Path, bytes]:
    with EventFileWriter(tmp_path / "run") as w:
        for i in range(n):
            w.add_scalar("loss", float(i), i, wall_time=float(i))
    return w.path, w.path.read_bytes()


def _record_offsets(data: bytes) -> list[int]:
    out, off = [], 0
    while off + 12 <= len(data):
        out.append(off)
        off += 16 + struct.unpack_from("<Q", data, off)[0]
    return out


def test_corrupt_data_byte_drops_one_record(tmp_path):
    path, data = _big_file(tmp_path)
    offs = _record_offsets(data)
    k = len(offs) // 2
    bad = bytearray(data)
    bad[offs[k] + 20] ^= 0x40  # inside the data of record k
    path.write_bytes(bytes(bad))
    log = read_event_file(path)
    assert log.dropped_records == 1
    assert log.records == len(offs) - 1
    assert len(log.problems) == 1 and "checksum" in log.problems[0].message and str(path) in log.problems[0].message
    assert f"byte {offs[k]}" in log.problems[0].message
    v = series(log)["loss"].values
    assert (
        len(v) == 299 and (k - 1) not in v
    )  # record k holds scalar k - 1 (record 0 is the version)


def test_threaded_and_sequential_reads_agree(tmp_path, monkeypatch):
    """Big files are framed by two threads and CRC-checked beside the decoding; small files
    are not.  Force both ways on one damaged file: same result."""
    from traindx.readers.tfevents import reader

    path, data = _big_file(tmp_path, n=3000)
    offs = _record_offsets(data)
    bad = bytearray(data)
    bad[offs[1500] + 30] ^= 0x01  # a data byte
    bad[offs[2500]] ^= 0x02  # a length byte
    path.write_bytes(bytes(bad))
    monkeypatch.setattr(tfr.framing, "_PARALLEL_BYTES", 1 << 40)
    monkeypatch.setattr(reader, "_PARALLEL_MIN", 1 << 40)
    seq = read_event_file(path)
    monkeypatch.setattr(tfr.framing, "_PARALLEL_BYTES", 1000)
    monkeypatch.setattr(reader, "_PARALLEL_MIN", 10)
    par = read_event_file(path)
    assert seq.problems == par.problems and len(par.problems) == 2
    assert seq.dropped_records == par.dropped_records == 2
    np.testing.assert_array_equal(series(seq)["loss"].values, series(par)["loss"].values)
    assert len(series(par)["loss"].values) == 2998


def test_corrupt_length_resyncs(tmp_path):
    path, data = _big_file(tmp_path)
    offs = _record_offsets(data)
    k = 100
    bad = bytearray(data)
    bad[offs[k]] ^= 0x01  # the length of record k: framing is lost there
    path.write_bytes(bytes(bad))
    log = read_event_file(path)
    assert log.dropped_records == 1
    assert len(log.problems) == 1
    assert f"byte {offs[k]}" in log.problems[0].message and f"byte {offs[k + 1]}" in log.problems[0].message
    assert str(path) in log.problems[0].message
    assert len(series(log)["loss"].values) == 299


def test_damaged_span_counts_the_records_lost(tmp_path):
    path, data = _big_file(tmp_path)
    offs = _record_offsets(data)
    bad = bytearray(data)
    bad[offs[100] + 5 : offs[103] + 5] = bytes(offs[103] - offs[100])  # zeros over 3 headers
    path.write_bytes(bytes(bad))
    log = read_event_file(path)
    assert log.dropped_records == 4  # records 100..103 (103's header is damaged too)
    assert f"byte {offs[100]}" in log.problems[0].message and f"byte {offs[104]}" in log.problems[0].message
    assert len(series(log)["loss"].values) == 296


def test_truncated_file_reads_cleanly(tmp_path):
    path, data = _big_file(tmp_path)
    offs = _record_offsets(data)
    path.write_bytes(data[: offs[-1] + 9])  # cut in the middle of the last record's header
    log = read_event_file(path)
    assert log.dropped_records == 0
    assert [(p.kind, p.message) for p in log.problems] == [
        ("incomplete", f"{path}: the last record is incomplete (file still being written?); not read")
    ]
    assert len(series(log)["loss"].values) == 299
    path.write_bytes(data[: offs[-1] + 20])  # cut in its data
    log = read_event_file(path)
    assert log.dropped_records == 0 and len(series(log)["loss"].values) == 299
    assert log.problems[0].kind == "incomplete"


def test_garbage_file_is_a_read_error(tmp_path):
    path = tmp_path / "events.out.tfevents.123.host"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ReadError) as err:
        read_event_file(path)
    assert str(path) in str(err.value) and "TFRecord" in str(err.value)
    path.write_text("step,loss\n1,0.5\n2,0.4\n" * 10)
    with pytest.raises(ReadError, match="not a TFRecord"):
        read_event_file(path)


def test_empty_and_missing_files(tmp_path):
    path = tmp_path / "events.out.tfevents.0.empty"
    path.write_bytes(b"")
    log = read_event_file(path)
    assert log.series == [] and log.histograms == [] and log.records == 0 and log.problems == []
    with pytest.raises(ReadError, match="no such file") as err:
        read_event_file(tmp_path / "missing.tfevents")
    assert str(tmp_path / "missing.tfevents") in str(err.value)
    with pytest.raises(ReadError):
        read_event_file(tmp_path)


def test_is_event_file():
    assert is_event_file("runs/a/events.out.tfevents.1700000000.host.123.0")
    assert is_event_file(Path("x/events.out.tfevents.1.h.traindx"))
    assert not is_event_file("metrics.csv")


# --------------------------------------------------------------------------- real writers


@pytest.mark.tensorboardx
def test_tensorboardx_writer(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    rng = np.random.default_rng(0)
    w = tbx.SummaryWriter(str(tmp_path))
    for s in range(30):
        w.add_scalar("train/loss", float(np.exp(-s / 10)), s)
        w.add_scalar("lr", 0.1, s)
        if s % 10 == 0:
            w.add_histogram("grad/w", rng.standard_normal(500) * (s + 1), s)
    w.close()
    path = only_file(tmp_path)
    log = read_event_file(path)
    assert log.problems == [] and log.dropped_records == 0
    assert list(series(log)) == ["train/loss", "lr"]
    assert_matches_accumulator(log, path)


@pytest.mark.torch
def test_torch_summary_writer(tmp_path):
    pytest.importorskip("tensorboard")
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path))
    for s in range(25):
        w.add_scalar("loss", float(1 / (s + 1)), s)
        w.add_scalar("new_style", float(s) * 0.5, s, new_style=True)
        if s % 8 == 0:
            w.add_histogram("weight", torch.linspace(-s - 1, s + 1, 200), s)
    w.close()
    path = only_file(tmp_path)
    log = read_event_file(path)
    assert log.problems == []
    assert series(log)["new_style"].values.tolist() == [s * 0.5 for s in range(25)]
    assert_matches_accumulator(log, path)


@pytest.mark.keras
def test_tf2_summaries(tmp_path):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tensorboard")
    w = tf.summary.create_file_writer(str(tmp_path))
    rng = np.random.default_rng(1)
    data = {s: rng.standard_normal(200) * (s + 1) for s in range(0, 12, 4)}
    with w.as_default():
        for s in range(12):
            tf.summary.scalar("loss", 1.0 / (s + 1), step=s)
            tf.summary.scalar("epoch_accuracy", s / 12, step=s)
            if s in data:
                tf.summary.histogram("dense/kernel", data[s], step=s)
    w.close()
    path = only_file(tmp_path)
    log = read_event_file(path)
    assert log.problems == []
    s = series(log)
    assert set(s) == {"loss", "epoch_accuracy"}
    np.testing.assert_array_equal(s["loss"].values, np.float32(1.0 / (np.arange(12) + 1)))
    h = hists(log)["dense/kernel"]
    assert h.steps.tolist() == [0, 4, 8]
    for row, s_ in zip(h.stats, data, strict=True):
        x = data[s_]
        assert (
            row[0] == 200 and row[3] == pytest.approx(x.min()) and row[4] == pytest.approx(x.max())
        )
        assert row[1] == pytest.approx(
            x.sum(), rel=0.05, abs=0.05 * np.abs(x).sum()
        )  # bucket centres
    assert_matches_accumulator(log, path)


@pytest.mark.keras
def test_keras_tensorboard_callback(tmp_path):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorboard")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    cb = keras.callbacks.TensorBoard(log_dir=str(tmp_path), histogram_freq=1)
    hist = model.fit(
        x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[cb]
    )
    path = only_file(tmp_path / "train")
    log = read_event_file(path)
    assert log.problems == []
    s = series(log)
    np.testing.assert_allclose(s["epoch_loss"].values, hist.history["loss"], rtol=1e-6)
    assert s["epoch_loss"].steps.tolist() == [0, 1, 2]
    assert hists(log), "histogram_freq=1 writes weight histograms"
    assert_matches_accumulator(log, path)
    val = read_event_file(only_file(tmp_path / "validation"))
    np.testing.assert_allclose(
        series(val)["epoch_loss"].values, hist.history["val_loss"], rtol=1e-6
    )

"""A training history saved as one JSON object of per-epoch lists (``json.dump(history.history)``)
or as a list of per-epoch objects (``json.dump(rows)``) is read as a run with one point per
epoch; other ``.json`` files are still not logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import traindx
from traindx.errors import ReadError
from traindx.readers.json_history import read_json_history

HISTORY = {
    "loss": [0.9, 0.6, 0.45, 0.4, 0.37, 0.35],
    "accuracy": [0.6, 0.75, 0.82, 0.85, 0.86, 0.87],
    "val_loss": [0.95, 0.7, 0.55, 0.52, 0.5, 0.5],
    "val_accuracy": [0.58, 0.7, 0.8, 0.81, 0.82, 0.82],
}


def test_history_json_is_read_per_epoch(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(json.dumps(HISTORY))
    runs = traindx.read(tmp_path)
    assert len(runs) == 1
    series = runs[0].series
    loss = series["train/loss"]
    assert list(loss.values) == HISTORY["loss"]
    assert list(series["val/loss"].values) == HISTORY["val_loss"]
    assert loss.unit == "epoch" and list(loss.steps) == list(range(6))


def test_history_json_gets_a_verdict_not_a_skip(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(json.dumps(HISTORY))
    report = traindx.diagnose(tmp_path)
    assert len(report) == 1 and report[0].verdict in ("healthy", "findings")


def test_non_numbers_are_counted_and_shorter_lists_align_at_the_start(tmp_path: Path) -> None:
    p = tmp_path / "hist.json"
    p.write_text(json.dumps({"loss": [1.0, "oops", 0.5, 0.4], "lr": [0.1, 0.1]}))
    log = read_json_history(p)
    assert log.dropped_records == 1
    assert any("not numbers" in pr.message for pr in log.problems)
    names = {s.name: s for s in log.series}
    assert list(names["loss"].values) == [1.0, 0.5, 0.4]
    assert list(names["lr"].values) == [0.1, 0.1]


@pytest.mark.parametrize(
    "doc",
    [
        {"model": "mlp", "layers": [64, 64]}, {"lr": 0.1}, [1, 2, 3], {"a": [1]},
        [{"name": "conv1", "channels": "64"}, {"name": "conv2"}], [{"lr": 0.1}],
    ],
)
def test_other_json_files_are_not_logs(tmp_path: Path, doc: object) -> None:
    (tmp_path / "config.json").write_text(json.dumps(doc))
    (tmp_path / "log.csv").write_text(
        "epoch,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(12))
    )
    runs = traindx.read(tmp_path)
    assert len(runs) == 1
    assert "train/loss" in runs[0].series


def test_a_history_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text("{not json")
    with pytest.raises(ReadError, match="history.json"):
        read_json_history(p)


ROWS = [
    {"epoch": e + 1, "loss": HISTORY["loss"][e], "val": {"loss": HISTORY["val_loss"][e]}}
    for e in range(6)
]


@pytest.mark.parametrize("name", ["history.json", "metrics.json"])
def test_a_list_of_epoch_objects_is_read_per_epoch(tmp_path: Path, name: str) -> None:
    # metrics.json is otherwise read as JSON lines (detectron2): a json.dump'd list is a document
    (tmp_path / name).write_text(json.dumps(ROWS, indent=2))
    runs = traindx.read(tmp_path)
    assert len(runs) == 1
    loss = runs[0].series["train/loss"]
    assert list(loss.values) == HISTORY["loss"]
    assert loss.unit == "epoch" and list(loss.steps) == [1, 2, 3, 4, 5, 6]
    assert list(runs[0].series["val/loss"].values) == HISTORY["val_loss"]


def test_items_that_are_not_objects_are_counted(tmp_path: Path) -> None:
    p = tmp_path / "rows.json"
    p.write_text(json.dumps([*ROWS[:4], "oops", ROWS[4]]))
    log = read_json_history(p)
    assert log.dropped_records == 1
    assert any("not objects" in pr.message for pr in log.problems)
    assert list({s.name: s for s in log.series}["loss"].values) == HISTORY["loss"][:5]


def test_metrics_json_of_json_lines_stays_json_lines(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    runs = traindx.read(tmp_path)
    assert list(runs[0].series["train/loss"].values) == HISTORY["loss"]

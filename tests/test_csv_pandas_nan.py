"""pandas' ``to_csv`` writes NaN as an empty cell: a Keras history that is NaN from the first
batch must reach the rules as NaN (counted), not as an unreadable file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from traindx.errors import ReadError
from traindx.readers.csvlog import read_csv

pd = pytest.importorskip("pandas")


def _history_csv(tmp_path: Path, history: dict, **kw: object) -> Path:
    path = tmp_path / "history.csv"
    pd.DataFrame(history).to_csv(path, **kw)
    return path


def test_all_nan_history_reads_as_nan_and_is_counted(tmp_path: Path) -> None:
    nan = float("nan")
    path = _history_csv(tmp_path, {"loss": [nan] * 6, "mae": [nan] * 6, "val_loss": [nan] * 6})
    assert path.read_text().splitlines()[1] == "0,,,"  # what pandas writes: empty cells
    log = read_csv(path)
    series = {s.name: s for s in log.series}
    assert sorted(series) == ["loss", "mae", "val_loss"]
    assert series["loss"].steps.tolist() == list(range(6))
    assert all(math.isnan(v) for v in series["loss"].values)
    notes = [p for p in log.problems if p.kind == "note"]
    assert len(notes) == 1 and "'loss'" in notes[0].message and notes[0].count == 18


def test_all_nan_history_is_diagnosed_as_nonfinite(tmp_path: Path) -> None:
    from traindx.api import diagnose

    nan = float("nan")
    _history_csv(tmp_path, {"loss": [nan] * 12, "val_loss": [nan] * 12})
    d = diagnose(tmp_path)[0]
    assert d.verdict != "healthy"
    assert "LOSS001" in [s.code for s in d.symptoms]


def test_empty_cells_beside_values_stay_not_logged(tmp_path: Path) -> None:
    # a DataFrame from rows with validation every other epoch: its gaps are "not logged"
    rows = [{"loss": 1.0 / (e + 1), **({"val_loss": 1.2 / (e + 1)} if e % 2 else {})} for e in range(6)]
    log = read_csv(_history_csv(tmp_path, rows))
    series = {s.name: s for s in log.series}
    assert series["val_loss"].steps.tolist() == [1, 3, 5]
    assert np.isfinite(series["val_loss"].values).all()
    assert not [p for p in log.problems if p.kind == "note"]


def test_without_the_index_column_empty_stays_not_logged(tmp_path: Path) -> None:
    # no pandas fingerprint (index=False): an empty column means nothing was logged
    nan = float("nan")
    log = read_csv(_history_csv(tmp_path, {"loss": [nan] * 6, "val_loss": [nan] * 6}, index=False))
    assert log.series == [] and not log.problems


def test_an_index_column_with_a_gap_is_no_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(",loss,val_loss\n0,,\n2,,\n3,,\n")  # not 0, 1, 2...: not pandas' RangeIndex
    with pytest.raises(ReadError, match="no numeric columns"):
        read_csv(path)


def test_pandas_index_is_the_epoch_axis(tmp_path: Path) -> None:
    # pd.DataFrame(history.history).to_csv(...): one row per epoch, numbered by an unnamed index
    history = {"loss": [1.0 / (e + 1) for e in range(5)], "val_loss": [1.1 / (e + 1) for e in range(5)]}
    path = _history_csv(tmp_path, history)
    assert path.read_text().splitlines()[0] == ",loss,val_loss"
    log = read_csv(path)
    series = {s.name: s for s in log.series}
    assert sorted(series) == ["loss", "val_loss"]  # the index is the axis, not a series
    assert {s.unit for s in log.series} == {"epoch"}
    assert series["val_loss"].steps.tolist() == list(range(5))


def test_without_the_index_column_rows_stay_steps(tmp_path: Path) -> None:
    history = {"loss": [1.0 / (e + 1) for e in range(5)], "val_loss": [1.1 / (e + 1) for e in range(5)]}
    log = read_csv(_history_csv(tmp_path, history, index=False))
    assert {s.unit for s in log.series} == {"step"}


def test_an_explicit_step_column_wins_over_the_index(tmp_path: Path) -> None:
    rows = {"step": [10, 20, 30], "loss": [1.0, 0.8, 0.6]}
    log = read_csv(_history_csv(tmp_path, rows))
    loss = next(s for s in log.series if s.name == "loss")
    assert loss.unit == "step" and loss.steps.tolist() == [10, 20, 30]


def test_a_loss_going_nan_mid_run_reads_as_nan_from_there(tmp_path: Path) -> None:
    # pandas writes the NaN tail as empty cells while accuracy (same rows) goes on being logged
    nan = float("nan")
    history = {"loss": [0.4, 0.2, 0.1, nan, nan], "accuracy": [0.8, 0.9, 0.95, 0.4, 0.37]}
    path = _history_csv(tmp_path, history, index_label="epoch")
    assert path.read_text().splitlines()[4] == "3,,0.4"
    log = read_csv(path)
    loss = next(s for s in log.series if s.name == "loss")
    assert loss.steps.tolist() == list(range(5))
    assert np.isfinite(loss.values[:3]).all() and np.isnan(loss.values[3:]).all()
    notes = [p for p in log.problems if p.kind == "note"]
    assert len(notes) == 1 and "'loss' from line 5" in notes[0].message and notes[0].count == 2


def test_lightning_step_rows_then_an_epoch_row_stay_not_logged(tmp_path: Path) -> None:
    # Lightning metrics.csv of one epoch: step rows, then the epoch-end row without the step loss
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train_loss_step,val_loss,val_acc,train_loss_epoch\n"
        "0,49,0.9,,,\n0,99,0.7,,,\n0,149,0.5,,,\n0,149,,0.6,0.8,\n0,149,,,,0.7\n"
    )
    log = read_csv(path)
    step_loss = next(s for s in log.series if s.name == "train_loss_step")
    assert step_loss.steps.tolist() == [49, 99, 149] and np.isfinite(step_loss.values).all()
    assert not [p for p in log.problems if p.kind == "note"]


def test_a_column_stopping_with_no_column_going_on_stays_not_logged(tmp_path: Path) -> None:
    # nothing of the loss's cadence goes on in the empty rows: the rows say nothing of a NaN
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.8,0.9\n2,0.6,\n3,0.5,\n4,,\n")
    log = read_csv(path)
    series = {s.name: s for s in log.series}
    assert series["loss"].steps.tolist() == [0, 1, 2, 3] and np.isfinite(series["loss"].values).all()
    assert series["val_loss"].steps.tolist() == [0, 1]
    assert not [p for p in log.problems if p.kind == "note"]


def test_a_column_starting_late_or_interleaved_stays_not_logged(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_loss,lr\n0,1.0,,0.1\n1,0.8,,0.1\n2,0.6,0.7,\n3,0.5,0.6,0.1\n")
    log = read_csv(path)
    series = {s.name: s for s in log.series}
    assert series["val_loss"].steps.tolist() == [2, 3] and series["lr"].steps.tolist() == [0, 1, 3]
    assert all(np.isfinite(s.values).all() for s in log.series)

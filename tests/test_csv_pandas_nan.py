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

"""A hand table's bare metrics beside their ``train_`` twin (fixtures/qa_begin47:
``epoch,train_mse,mse,rmse,mae,r2`` with the unprefixed ones on the test set) are held out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.readers import read


def _write(d: Path, name: str, rows: list[str]) -> None:
    (d / name).write_text("\n".join(rows) + "\n")


def test_bare_metrics_beside_a_train_twin_are_held_out(tmp_path):
    _write(tmp_path, "metrics.csv", ["epoch,train_mse,mse,rmse,r2,lr", "1,0.9,1.0,1.0,0.1,0.01", "2,0.5,0.7,0.84,0.3,0.01"])
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/mse", "val/mse", "val/rmse", "val/r2", "train/lr"}
    np.testing.assert_allclose(run.series["val/mse"].values, [1.0, 0.7])


def test_bare_beside_train_and_val_names_is_the_test_split(tmp_path):
    _write(tmp_path, "log.csv", ["epoch,train_loss,val_loss,loss,acc", "1,0.9,1.0,1.1,0.5", "2,0.5,0.7,0.8,0.6"])
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss", "test/loss", "test/accuracy"} <= set(run.series)


def test_bare_names_without_a_differing_train_twin_stay_training(tmp_path):
    _write(tmp_path, "a.csv", ["epoch,loss,val_loss,acc", "1,0.9,1.0,0.5", "2,0.5,0.7,0.6"])
    _write(tmp_path, "b.csv", ["step,loss,train_loss", "1,0.9,0.9", "2,0.5,0.5"])  # one number, two names
    runs = {r.id: r for r in read(tmp_path / "a.csv") + read(tmp_path / "b.csv")}
    assert set(runs["a.csv"].series) == {"train/loss", "val/loss", "train/accuracy"}
    assert set(runs["b.csv"].series) == {"train/loss"}


def test_a_one_point_train_summary_beside_per_step_loss_is_no_twin():
    from traindx.readers.bare_twins import held_out_bare
    from traindx.readers.raw import RawSeries

    loss = RawSeries("loss", np.array([10, 20, 30]), np.array([0.9, 0.7, 0.6]))
    summary = RawSeries("train_loss", np.array([30]), np.array([0.72]))
    assert held_out_bare([loss, summary]) == {}

"""Reader habits of beginner layouts (fixtures/qa_begin47): one run's splits written to files of
their own, named alike but for a split word (``train.csv`` beside ``val.csv``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.readers import read
from traindx.readers.filesplits import name_splits


def _write(d: Path, name: str, rows: list[str]) -> None:
    (d / name).write_text("\n".join(rows) + "\n")


def test_train_and_val_files_with_the_same_columns_are_the_runs_splits(tmp_path):
    _write(tmp_path, "train.csv", ["epoch,loss,acc", "1,0.9,0.5", "2,0.7,0.6", "3,0.5,0.7"])
    _write(tmp_path, "val.csv", ["epoch,loss,acc", "1,0.95,0.45", "2,0.8,0.55", "3,0.75,0.6"])
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss", "train/accuracy", "val/loss", "val/accuracy"}
    np.testing.assert_allclose(run.series["train/loss"].values, [0.9, 0.7, 0.5])
    np.testing.assert_allclose(run.series["val/loss"].values, [0.95, 0.8, 0.75])
    assert run.series["train/loss"].superseded == 0


def test_split_word_inside_a_longer_name(tmp_path):
    _write(tmp_path, "train_log.csv", ["epoch,loss", "1,0.9", "2,0.7"])
    _write(tmp_path, "valid_log.csv", ["epoch,loss", "1,1.0", "2,0.9"])
    _write(tmp_path, "test_log.csv", ["epoch,loss", "1,1.1", "2,1.0"])
    (run,) = read(tmp_path)
    np.testing.assert_allclose(run.series["val/loss"].values, [1.0, 0.9])
    np.testing.assert_allclose(run.series["test/loss"].values, [1.1, 1.0])
    np.testing.assert_allclose(run.series["train/loss"].values, [0.9, 0.7])


def test_a_resumed_run_of_one_split_still_merges(tmp_path):
    _write(tmp_path, "train.csv", ["epoch,loss", "1,0.9", "2,0.7", "3,0.6"])
    _write(tmp_path, "train_2.csv", ["epoch,loss", "3,0.65", "4,0.5"])
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss"}
    np.testing.assert_allclose(run.series["train/loss"].steps, [1, 2, 3, 4])


def test_name_splits_needs_two_different_splits_and_no_folder_split():
    a, b, c = Path("r/train.csv"), Path("r/val.csv"), Path("r/valid.csv")
    assert name_splits([(a, None), (b, None)]) == [(a, "train"), (b, "val")]
    assert name_splits([(b, None), (c, None)]) == [(b, None), (c, None)]  # which is which
    assert name_splits([(a, None)]) == [(a, None)]
    assert name_splits([(a, "val"), (b, None)]) == [(a, "val"), (b, None)]
    h, v = Path("r/history_train.json"), Path("r/history_val.json")
    assert name_splits([(h, None), (v, None)]) == [(h, "train"), (v, "val")]



def test_history_json_per_split(tmp_path):
    import json

    (tmp_path / "history_train.json").write_text(json.dumps({"loss": [0.9, 0.7, 0.5], "acc": [0.5, 0.6, 0.7]}))
    (tmp_path / "history_val.json").write_text(json.dumps({"loss": [1.0, 0.9, 0.85], "acc": [0.4, 0.5, 0.55]}))
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss", "train/accuracy", "val/loss", "val/accuracy"}
    np.testing.assert_allclose(run.series["val/loss"].values, [1.0, 0.9, 0.85])

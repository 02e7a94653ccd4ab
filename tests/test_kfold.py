"""A k-fold cross-validation table (``fold,epoch,loss,...``, as sklearn ``KFold`` loops in
Keras/torch tutorials write it with the csv module) is a run per fold, not one run resumed
k-1 times; and a TensorBoard tag whose second part starts with a split word (``Accuracy/val_pairs``)
is that split's, as ``Loss/val`` is."""

from __future__ import annotations

import csv
from pathlib import Path

import traindx


def _write_kfold(path: Path, folds: list[int], epochs: int = 4) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["fold", "epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
        for k in folds:
            for e in range(1, epochs + 1):
                w.writerow([k, e, 1.0 / (e + k), 0.5 + 0.1 * e, 1.2 / (e + k), 0.4 + 0.1 * e + 0.01 * k])


def test_each_fold_is_its_own_run(tmp_path: Path) -> None:
    d = tmp_path / "cv"
    d.mkdir()
    _write_kfold(d / "cv_log.csv", [1, 2, 3])
    runs = traindx.read(d)
    assert [r.id for r in runs] == ["cv/fold1", "cv/fold2", "cv/fold3"]
    for k, run in enumerate(runs, 1):
        vl = run.series["val/loss"]
        assert vl.steps.tolist() == [1, 2, 3, 4] and vl.superseded == 0
        assert vl.values[0] == 1.2 / (1 + k)  # this fold's rows, not the last fold's
        assert "fold" not in run.ingest.unmapped
        assert not any("restarted" in p.message for p in run.ingest.problems)
    # the file named directly: the same runs
    assert [r.id for r in traindx.read(d / "cv_log.csv")] == ["cv_log.csv/fold1", "cv_log.csv/fold2", "cv_log.csv/fold3"]


def test_one_fold_or_no_fold_column_is_one_run(tmp_path: Path) -> None:
    _write_kfold(tmp_path / "one.csv", [2])
    (run,) = traindx.read(tmp_path / "one.csv")
    assert run.series["val/loss"].steps.tolist() == [1, 2, 3, 4]
    with open(tmp_path / "resumed.csv", "w", newline="") as f:  # a resumed run still reads as one
        w = csv.writer(f)
        w.writerow(["epoch", "loss", "val_loss"])
        w.writerows([[1, 0.9, 1.0], [2, 0.8, 0.9], [1, 0.85, 0.95], [2, 0.7, 0.8], [3, 0.6, 0.7]])
    (run,) = traindx.read(tmp_path / "resumed.csv")
    assert run.series["val/loss"].superseded == 2
    assert any("restarted" in p.message for p in run.ingest.problems)


def test_split_word_after_the_metric_in_a_tensorboard_tag(tmp_path: Path) -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(tmp_path / "tb"))
    for step in range(5):
        w.add_scalar("Loss/train", 1.0 / (step + 1), step)
        w.add_scalar("Loss/val", 1.1 / (step + 1), step)
        w.add_scalar("Accuracy/val_pairs", 0.5 + 0.05 * step, step)
    w.close()
    (run,) = traindx.read(tmp_path / "tb")
    assert "val/accuracy@pairs" in {str(k) for k in run.series}
    assert "train/accuracy@val_pairs" not in {str(k) for k in run.series}
    assert run.series["val/accuracy@pairs"].steps.tolist() == [0, 1, 2, 3, 4]


def test_interleaved_fold_values_are_not_split(tmp_path: Path) -> None:
    with open(tmp_path / "t.csv", "w", newline="") as f:  # not a fold loop's blocks of rows
        w = csv.writer(f)
        w.writerow(["epoch", "fold", "loss", "val_loss"])
        w.writerows([[e, 1 + e % 2, 1.0 / e, 1.1 / e] for e in range(1, 7)])
    (run,) = traindx.read(tmp_path / "t.csv")
    assert run.series["val/loss"].steps.tolist() == [1, 2, 3, 4, 5, 6]


def test_a_file_per_fold_is_a_run_per_fold(tmp_path: Path) -> None:
    # fixtures/qa_begin42: fold_1.csv .. fold_3.csv were merged as one run resumed twice, folds 1-2
    # superseded; a file per fold (any format, any fold spelling) is a run of its own
    d = tmp_path / "cv"
    d.mkdir()
    for k in (1, 2, 3):
        with open(d / f"fold_{k}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", "loss", "val_loss"])
            for e in range(6):
                w.writerow([e, 1.0 / (e + k), 1.2 / (e + k)])
    (d / "notes.csv").write_text("epoch,loss\n0,1.0\n1,0.9\n")  # a file of no fold stays the folder's run
    runs = traindx.read(d)
    assert sorted(r.id for r in runs) == ["cv", "cv/fold_1", "cv/fold_2", "cv/fold_3"]
    for run in runs:
        if run.id != "cv":
            k = int(run.id[-1])
            assert run.series["val/loss"].values[0] == 1.2 / k and run.series["val/loss"].superseded == 0
    e = tmp_path / "one"
    e.mkdir()
    (e / "fold_1.csv").write_text("epoch,loss\n0,1.0\n1,0.9\n")  # one fold: no group
    assert [r.id for r in traindx.read(e)] == ["one"]

"""Accuracy written as 'correct/total' strings (fixtures/qa_begin47: ``val_correct`` '79/114')."""

from __future__ import annotations

import numpy as np

from traindx.readers import read


def test_fraction_cells_of_a_correct_column_are_the_splits_accuracy(tmp_path):
    p = tmp_path / "results.csv"
    p.write_text("epoch,loss,val_loss,val_correct\n1,0.7,0.69,79/114\n2,0.6,0.65,90/114\n")
    (run,) = read(p)
    np.testing.assert_allclose(run.series["val/accuracy"].values, [79 / 114, 90 / 114])
    assert any("read as the share" in q.message for q in run.ingest.problems)


def test_fraction_cells_of_an_accuracy_column(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss,val_acc\n1,0.7,48/143\n2,0.6,140/143\n")
    (run,) = read(p)
    np.testing.assert_allclose(run.series["val/accuracy"].values, [48 / 143, 140 / 143])


def test_fractions_elsewhere_and_plain_counts_are_not_accuracies(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss,batch_ratio,correct\n1,0.7,3/4,48\n2,0.6,4/4,140\n")
    (run,) = read(p)
    assert set(run.series) == {"train/loss"}  # 'correct' counts: not a share; '3/4' elsewhere: skipped
    assert any("batch_ratio" in q.message and "not numeric" in q.message for q in run.ingest.problems)

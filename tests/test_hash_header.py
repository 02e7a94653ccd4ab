"""``np.savetxt(fname, arr, delimiter=',', header='epoch,loss,acc')`` writes ``# epoch,loss,acc``:
the comment mark is not part of the first name (fixtures/qa_begin47's wine pair)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.errors import ReadError
from traindx.readers import read


def test_numpy_comment_header_names_the_epoch_column(tmp_path):
    p = tmp_path / "history.csv"
    arr = np.array([[1, 1.15, 0.37, 1.09, 0.39], [2, 1.09, 0.35, 1.08, 0.40], [4, 1.05, 0.36, 1.07, 0.41]])
    np.savetxt(p, arr, delimiter=",", header="epoch,loss,acc,val_loss,val_acc", fmt="%f")
    assert p.read_text().startswith("# epoch,")
    (run,) = read(p)
    assert set(run.series) == {"train/loss", "train/accuracy", "val/loss", "val/accuracy"}
    assert run.series["val/loss"].unit == "epoch"
    np.testing.assert_array_equal(run.series["val/loss"].steps, [1, 2, 4])


def test_a_repeated_comment_header_is_skipped(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("# epoch,loss\n1,0.9\n2,0.8\n# epoch,loss\n3,0.7\n")
    (run,) = read(p)
    np.testing.assert_allclose(run.series["train/loss"].values, [0.9, 0.8, 0.7])


def test_numbers_only_savetxt_says_no_column_names_and_the_file(tmp_path):
    p = tmp_path / "losses.csv"
    np.savetxt(p, np.array([[0, 2.07, 2.06, 0.19], [1, 2.05, 2.04, 0.31]]), delimiter=",")
    with pytest.raises(ReadError) as e:
        read(p)
    assert "losses.csv" in str(e.value) and "no header row" in str(e.value)

"""A step column beside an epoch column that repeats a step counts the trainer's optimizer
steps (Lightning's metrics.csv writes an epoch's training row and its validation row at one
global step): the reader marks the run ``steps_counted`` so that its steps per epoch count as
the run's own (CTX019: full-batch training, qa_real36's Lightning pair). A table with one
row per step value (a counter of log calls or epochs) is not marked."""

from __future__ import annotations

from pathlib import Path

import traindx


def _write(tmp_path: Path, rows: list[str]) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    (d / "metrics.csv").write_text("\n".join(rows) + "\n")
    return d


def test_lightning_rows_sharing_a_global_step_are_counted(tmp_path):
    rows = ["epoch,step,train_loss,val_loss"]
    for e in range(20):  # one optimizer step per epoch: global step == epoch
        rows += [f"{e},{e},,{2.30 - 0.003 * e}", f"{e},{e},{2.30 - 0.003 * e},"]
    run = traindx.read(_write(tmp_path, rows))[0]
    assert run.context.flags.get("steps_counted") is True
    assert run.context.steps_per_epoch == 1


def test_one_row_per_step_is_not_a_trainer_count(tmp_path):
    rows = ["epoch,step,loss,val_loss"] + [f"{e},{e},{2.30 - 0.003 * e},{2.31 - 0.003 * e}" for e in range(20)]
    run = traindx.read(_write(tmp_path, rows))[0]
    assert "steps_counted" not in run.context.flags

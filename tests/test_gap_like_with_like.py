"""The gap between validation and training losses compares like with like: a validation
RMSE or MAE (the target's units) standing in for a validation loss is not set against a
training MSE."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.api import read
from traindx.signals import compute_facts


def _facts(tmp_path: Path, header: str) -> dict:
    rows = [f"{e},{0.4 * 0.8**e:.5f},{0.12 * 0.9**e:.5f}" for e in range(1, 16)]
    (tmp_path / "metrics.csv").write_text("\n".join([f"epoch,{header}", *rows]) + "\n")
    return compute_facts(read(tmp_path)[0])


def test_val_rmse_is_not_the_gap_to_a_training_loss(tmp_path: Path) -> None:
    facts = _facts(tmp_path, "train_loss,val_rmse")
    assert "val_loss" in facts  # still read as the validation loss (its shape, its trend)
    assert "gap" not in facts


def test_val_mae_beside_train_mae_is_compared(tmp_path: Path) -> None:
    assert "gap" in _facts(tmp_path, "train_mae,val_mae")


def test_val_mse_beside_a_training_loss_is_compared(tmp_path: Path) -> None:
    assert "gap" in _facts(tmp_path, "train_loss,val_mse")


def test_ratio_min_is_the_closest_validation_came_to_training() -> None:
    from traindx.signals.compare import gap_facts

    steps = np.arange(1, 31)
    train = 1.0 * 0.85**steps
    shifted = gap_facts(steps, train, steps, 3.0 * train + 0.01, same_axis=True)
    overfit = gap_facts(steps, train, steps, np.maximum(1.0 * 0.85**steps, 0.2) + 0.002 * steps, same_axis=True)
    assert shifted["ratio_min"] > 2.5  # never close: data unlike the training set
    assert overfit["ratio_min"] < 1.2  # close at first, then the gap opens

"""Which logged series is the optimized loss when no column is named loss (issue 10,
qa_wild47: ``train_mse``/``val_mse`` in a Markdown table). An error or likelihood metric, or a
cross-entropy / Huber loss under its own name, stands in for the loss of a split that logged
none (:data:`traindx.signals.pick.LOSS_STANDINS`); a split that logged ``loss`` keeps it (Keras
logs ``mse`` or ``binary_crossentropy`` as metrics beside its loss)."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx
from traindx.signals.pick import pick


def _csv(tmp_path: Path, names: list[str]) -> None:
    rows = [",".join(["epoch", *names])]
    rows += [",".join([str(e), *(f"{(2.0 + i) / e:.4f}" for i in range(len(names)))]) for e in range(1, 21)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize(
    ("train", "val"),
    [("train_mse", "val_mse"), ("train_ce", "val_ce"), ("train_xent", "val_xent"), ("train_bce", "val_bce"),
     ("train_cross_entropy", "val_cross_entropy"), ("train_huber", "val_huber"), ("train_nll", "val_nll")],
)  # fmt: skip
def test_a_loss_under_its_own_name_is_the_loss_of_a_split_without_one(tmp_path: Path, train: str, val: str) -> None:
    _csv(tmp_path, [train, val])
    (run,) = traindx.read(tmp_path)
    tl, vl = pick(run, "loss", "train"), pick(run, "loss", "val")
    assert tl is not None and tl.original_name == train and tl.values[0] == pytest.approx(2.0)
    assert vl is not None and vl.original_name == val and vl.values[0] == pytest.approx(3.0)


@pytest.mark.parametrize("metric", ["mse", "binary_crossentropy", "sparse_categorical_crossentropy", "mae", "huber"])
def test_a_split_that_logged_loss_keeps_it_beside_an_error_metric(tmp_path: Path, metric: str) -> None:
    _csv(tmp_path, ["loss", metric, "val_loss", f"val_{metric}"])
    (run,) = traindx.read(tmp_path)
    tl, vl = pick(run, "loss", "train"), pick(run, "loss", "val")
    assert tl is not None and tl.original_name == "loss"
    assert vl is not None and vl.original_name == "val_loss"

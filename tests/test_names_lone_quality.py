"""A quality metric named without a split beside a validation loss is the evaluation's (gapsr45,
qa_begin45: ``{'loss', 'val', 'acc'}``, ``cost, valid_cost, score``)."""

from __future__ import annotations

import pytest

from traindx.names import paired_names


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["loss", "val", "acc"], {"val": "val/loss", "acc": "val/accuracy"}),
        (["cost", "valid_cost", "score"], {"score": "val/score"}),
        (["Loss/train", "Loss/valid", "metrics/acc"], {"metrics/acc": "val/accuracy"}),
        (["epoch", "train_loss", "val_loss", "r2"], {"r2": "val/r2"}),
    ],
)
def test_an_unsplit_quality_metric_beside_a_validation_loss_is_the_validation_one(names, expected) -> None:
    assert paired_names(names) == expected


@pytest.mark.parametrize(
    "names",
    [
        ["loss", "accuracy", "val_loss", "val_accuracy"],  # Keras: 'accuracy' is the training one
        ["loss", "accuracy"],  # no validation at all
        ["loss", "acc", "val_loss", "train_acc"],  # a split named for one: the file says which
        ["train_loss", "val_loss", "acc", "val_f1"],  # a validation quality metric named: 'acc' is training's
    ],
)
def test_a_file_that_names_splits_of_its_quality_metrics_keeps_the_default(names) -> None:
    assert not any(v.startswith("val/") and k not in ("val", "val_loss") for k, v in paired_names(names).items())

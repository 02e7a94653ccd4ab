"""Accuracy far above its probabilities (ACC012) weighs against too_few_epochs and lr_too_low
(issue 10, gapsr50, qa_real50).

exp(-loss) is the geometric mean of the probability the model gives the true class; an honest
model short of epochs (or of step size) gains confidence as it gains accuracy, while squashed
outputs (softmax twice, a squashing activation on the logits, softmax over the batch) floor the
loss although the argmax is right. Labelled log-only runs (cached facts): ACC012 on 1 of 100
too_few_epochs runs, 0 of 118 lr_too_low, 15 of 105 logits_loss_mismatch, 15 of 51
softmax_wrong_axis, 0 of 2,028 healthy. qa_real50's softmax returned by forward into
nn.CrossEntropyLoss (12 classes, accuracy 0.73 at a loss of 2.03, still falling at epoch 12)
read as too_few_epochs 34 %.

A validation loss that climbs from its first evaluation beside an accuracy at chance while the
training loss creeps down (shared.val_climbs_from_first_at_chance) supports labels_corrupted and
distribution_shift alike: 23 of 143 and 25 of 103 log-only runs, 6 of ~2,950 others, 0 healthy.
qa_real50's x and y shuffled apart (validation loss 1.62 -> 1.71, accuracy 0.17 on 5 classes)
was labels_corrupted at 29 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cause_evidence import evidence_holds, series_run

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent / "fixtures/qa_real50/logs"
SHUFFLED = ROOT / "lightning_make_classification_5_classes_x_and_y_np_random_shuffle_called_separately_mlp_sgd_csvlogger"
SOFTMAX_CE = ROOT / "torch_blobs_12_classes_mlp_softmax_returned_by_forward_into_crossentropyloss_sgd_logging_file_monitor"
SAYS = "accuracy {acc.last} is far above the probability"


def _run(loss_end: float) -> object:
    """Twelve classes, accuracy 0.1 -> 0.75 over 40 points; the loss falls from ln 12 to
    ``loss_end`` (near ln 12: squashed outputs; far below: an honest model gaining confidence)."""
    acc = np.linspace(0.1, 0.75, 40)
    loss = np.linspace(np.log(12.0), loss_end, 40)
    return series_run({"loss": loss, "accuracy": acc})


def test_the_item_holds_where_accuracy_outruns_the_loss_and_not_on_an_honest_curve() -> None:
    squashed, honest = _run(2.05), _run(0.6)
    for cause in ("too_few_epochs", "lr_too_low"):
        assert evidence_holds(cause, SAYS, squashed) is True
        assert evidence_holds(cause, SAYS, honest) is False


def test_softmax_into_cross_entropy_is_not_read_as_too_few_epochs() -> None:
    (buggy,) = diagnose(SOFTMAX_CE / "buggy")
    assert {"ACC012", "LOSS007"} <= {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "logits_loss_mismatch"
    too_few = next(c for c in buggy.causes if c.id == "too_few_epochs")
    against = [e for e in too_few.evidence if "more epochs would not close the gap" in e.says]
    assert against and against[0].weight < 0
    (rules_only,) = diagnose(SOFTMAX_CE / "buggy", learned=False)
    low = next(c for c in rules_only.causes if c.id == "lr_too_low")
    assert any("a larger step would not close the gap" in e.says and e.weight < 0 for e in low.evidence)
    (fixed,) = diagnose(SOFTMAX_CE / "fixed")
    assert fixed.healthy


def _at_chance(val_loss: np.ndarray, val_acc: float) -> object:
    """Five classes: a training loss creeping down 8 % from ln 5, ten evaluations."""
    return series_run({"loss": np.linspace(1.61, 1.48, 50), "val/loss": val_loss, "val/accuracy": np.full(10, val_acc)})


def test_validation_climbing_at_chance_supports_both_data_causes_and_not_a_learning_model() -> None:
    climbs = np.linspace(1.62, 1.71, 10)
    says = "the validation loss climbs at every evaluation from its first"
    for cause in ("labels_corrupted", "distribution_shift"):
        assert evidence_holds(cause, says, _at_chance(climbs, 0.17)) is True
        assert evidence_holds(cause, says, _at_chance(climbs, 0.6)) is False  # above chance: it learned
        assert evidence_holds(cause, says, _at_chance(np.full(10, 1.62), 0.17)) is False  # flat, not climbing


def test_shuffled_labels_rank_first_with_the_climb_as_evidence() -> None:
    (buggy,) = diagnose(SHUFFLED / "buggy")
    top = buggy.causes[0]
    assert top.id == "labels_corrupted"
    assert any(e.says.startswith("the validation loss climbs") and e.weight > 0 for e in top.evidence)
    (fixed,) = diagnose(SHUFFLED / "fixed")
    assert fixed.healthy

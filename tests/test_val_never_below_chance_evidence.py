"""A validation loss that never gets clearly below chance while training fits (gapsv47).

A model that overfits fits the validation set first: its validation loss falls well below the
chance level ln C before it rises. One that never gets below 0.9 ln C while the training loss
fits (its best under 0.3 ln C) was evaluated on data from elsewhere. qa_fresh47's Lightning
run (validation images read column-major, 6 classes): best validation loss 1.69 against
ln 6 = 1.79, training 0.014 - read as overfitting 57 %, distribution_shift 21 %. Labelled
corpus, runs with the chance level known and training fit: 51 of 63 distribution_shift, 11
of 55 overfitting, 2 of 1,274 healthy.
"""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SHIFT_SAYS = "the training loss fit"
OVERFIT_SAYS = "the validation loss never got clearly below the chance level"
LN6 = float(np.log(6.0))


def _train() -> np.ndarray:
    return np.r_[LN6, LN6 * 0.6 ** np.arange(1, 30)]  # a fresh 6-class head, fit to ~0


def _acc(last: float) -> np.ndarray:
    return np.linspace(0.17, last, 9)


def test_validation_at_chance_while_training_fits_counts_for_a_shift():
    val = np.array([1.77, 1.69, 1.99, 3.95, 4.49, 4.77, 5.71, 6.0, 6.24])
    run = _run({"train/loss": _train(), "val/loss": val, "val/accuracy": _acc(0.34)})
    assert _fired("distribution_shift", SHIFT_SAYS, run) is True
    assert _fired("overfitting", OVERFIT_SAYS, run) is True


def test_validation_that_fell_well_below_chance_first_is_overfitting():
    val = np.array([1.5, 0.9, 0.6, 0.7, 1.0, 1.4, 1.9, 2.4, 3.0])  # fit first, then rose
    run = _run({"train/loss": _train(), "val/loss": val, "val/accuracy": _acc(0.8)})
    assert _fired("distribution_shift", SHIFT_SAYS, run) is not True
    assert _fired("overfitting", OVERFIT_SAYS, run) is not True


def test_training_that_does_not_fit_is_no_evidence():
    train = np.r_[LN6, np.linspace(1.75, 1.2, 29)]  # best 0.67 ln C: nothing memorized
    val = np.full(9, 1.75)
    run = _run({"train/loss": train, "val/loss": val, "val/accuracy": _acc(0.2)})
    assert _fired("distribution_shift", SHIFT_SAYS, run) is not True


def test_an_adapters_class_count_sets_the_chance_level():
    val = np.array([1.77, 1.69, 1.99, 3.95, 4.49, 4.77, 5.71, 6.0, 6.24])
    train = np.r_[2.5, 1.0 * 0.6 ** np.arange(1, 30)]  # a first loss at no ln k: the log alone has no chance level
    run = _run({"train/loss": train, "val/loss": val}, {"data": {"num_classes": 6}})
    assert _fired("distribution_shift", SHIFT_SAYS, run) is True
    multilabel = _run({"train/loss": train, "val/loss": val}, {"data": {"num_classes": 6}, "flags": {"loss_task": "multilabel"}})
    assert _fired("distribution_shift", SHIFT_SAYS, multilabel) is not True


def test_a_validation_loss_that_never_improved_is_counted_once():
    """Where the validation loss never improved at all (shared.val_stalls_while_training_fits,
    x6) the chance item adds nothing: the same fact (qa_real34's Keras labels factorized per
    split, labels_corrupted, went to distribution_shift when counted twice)."""
    val = np.array([3.4, 3.5, 3.7, 3.9, 4.2, 4.5, 4.8, 5.0, 5.2])
    run = _run({"train/loss": _train(), "val/loss": val, "val/accuracy": _acc(0.03)})
    assert _fired("distribution_shift", "the training loss fell by", run) is True
    assert _fired("distribution_shift", SHIFT_SAYS, run) is not True

"""overfitting counter-evidence: the training loss went to ~0 while the validation loss
levelled off and never rose more than 10 % above its best - the gap is what the data could not
teach, not what memorizing gave back (gapsj48: qa_jax48's 30-row digits run, val loss flat at
~0.76, read as overfitting 69 %). Corpus: 3 of 84 overfitting runs against 14 of 34
insufficient_data under the same gap."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds, series_run

SAYS = "validation loss levelled off and never rose"


def _train(n: int = 40) -> np.ndarray:
    return 2.3 * np.exp(-np.arange(n) / 5.0) + 0.002


def test_a_flat_validation_loss_beside_a_memorized_training_set_counts_against_overfitting():
    val = np.r_[1.39, 0.92, 0.77, 0.78, 0.77, 0.756, 0.766, 0.744, 0.744, 0.725, 0.755, 0.745, 0.776, 0.766, 0.758, 0.757, 0.768, 0.765, 0.78, 0.767]
    run = series_run({"train/loss": _train(), "val/loss": np.repeat(val, 2)})
    assert evidence_holds("overfitting", SAYS, run) is True


def test_a_validation_loss_that_turns_up_is_no_such_evidence():
    val = np.r_[1.4, 0.9, 0.7, 0.65, 0.66, 0.7, 0.75, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0]
    run = series_run({"train/loss": _train(), "val/loss": np.repeat(val, 2)})
    assert evidence_holds("overfitting", SAYS, run) is not True


def test_a_training_loss_that_did_not_fit_is_no_such_evidence():
    val = np.r_[1.4, 1.1, 1.0, 0.98, 0.97, 0.98, 0.97, 0.98, 0.97, 0.98]
    run = series_run({"train/loss": np.linspace(1.5, 0.9, 40), "val/loss": np.repeat(val, 4)})
    assert evidence_holds("overfitting", SAYS, run) is not True

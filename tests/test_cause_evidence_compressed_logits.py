"""A loss pinned at ln(C) from start to end while the accuracy climbs well above chance: the
compressed-logits signature of softmax outputs fed to a loss that applies softmax again
(qa_begin44 digits softmax-in-forward -> CrossEntropyLoss: batch loss 2.302 -> 2.299 over 560
steps, test accuracy 11.6 -> 27.5 %, read as zero/constant init, logits_loss_mismatch 14th).
Identical outputs for every class (zero init, units dead from the start) score one class's
share, so the same pinned loss beside a chance-level accuracy stays bad_weight_init's."""

from __future__ import annotations

import math

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

FOR = "the loss stays at ln("
AGAINST_INIT = "the accuracy climbs to"


def _series(acc_last: float) -> dict[str, np.ndarray]:
    ln10 = math.log(10)
    return {"train/loss": ln10 - np.linspace(0.0, 0.004, 40), "val/accuracy": np.linspace(0.116, acc_last, 40)}


def test_a_pinned_loss_beside_a_climbing_accuracy_is_compressed_logits():
    run = _run(_series(0.275))
    assert _fired("logits_loss_mismatch", FOR, run) is True
    assert _fired("bad_weight_init", AGAINST_INIT, run) is True
    assert _fired("dying_relu", AGAINST_INIT, run) is True


def test_a_pinned_loss_beside_a_chance_accuracy_is_not():
    run = _run(_series(0.11))
    assert _fired("logits_loss_mismatch", FOR, run) is not True
    assert _fired("bad_weight_init", AGAINST_INIT, run) is not True


PENALTY = "the loss slides steadily"


def _collapse(first: float, wiggle: float) -> dict[str, np.ndarray]:
    """A loss from ``first`` onto ln 10 (the excess shrinking 0.45x an epoch, ``wiggle`` a
    relative bounce every other epoch), accuracy at 1/10 at the end."""
    e = np.arange(30)
    excess = (first - math.log(10)) * 0.45**e * (1 + wiggle * (e % 2))
    return {"train/loss": math.log(10) + excess, "val/accuracy": np.full(30, 0.1)}


def test_a_huge_loss_sliding_steadily_onto_ln_c_is_a_penalty():
    """qa_begin44 Keras l2(1.0) on every layer: the logged cost includes the penalty, 134 ->
    2.302 (uniform outputs once the weights shrank to zero)."""
    assert _fired("too_much_regularization", PENALTY, _run(_collapse(134.0, 0.0))) is True


def test_an_erratic_fall_onto_ln_c_is_not_read_as_a_penalty():
    e = np.arange(30)
    bouncing = math.log(10) + np.where(e < 25, 40.0 * (1 + np.sin(1.7 * e)) + 1, 0.0)
    run = _run({"train/loss": bouncing, "val/accuracy": np.full(30, 0.1)})
    assert _fired("too_much_regularization", PENALTY, run) is not True

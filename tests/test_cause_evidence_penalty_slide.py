"""A loss that slides from far above ln(k) onto exactly ln(k) (LOSS031) reads as a penalty
shrinking the weights (too_much_regularization) only when the validation loss was still above
ln(k) at its first evaluation: a penalty in the logged loss (Keras adds it to val_loss too)
takes epochs to zero the weights, while a network that raw-scale inputs (or a huge step)
killed within the first epoch is already at the uniform guess when first evaluated. Labelled
log-only corpus: the item stops firing on 3 inputs_not_normalized, 1 bad_weight_init,
1 softmax_wrong_axis and 2 too_much_regularization runs (both dropout 0.95+, not a penalty)."""

from __future__ import annotations

import math

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "the loss slides steadily"
LN10 = math.log(10.0)


def _slide(val_first: float) -> dict[str, np.ndarray]:
    loss = np.concatenate([LN10 + np.geomspace(28.0, 0.001, 26), np.full(4, LN10)])
    val = np.concatenate([LN10 + np.geomspace(val_first - LN10 + 1e-9, 0.001, 26), np.full(4, LN10)])
    acc = np.full(30, 0.1)
    return {"train/loss": loss, "val/loss": val, "val/accuracy": acc}


def test_a_slow_slide_with_validation_above_chance_is_a_penalty():
    assert _fired("too_much_regularization", SAYS, _run(_slide(15.0))) is True


def test_validation_already_at_chance_at_first_evaluation_is_no_penalty():
    assert _fired("too_much_regularization", SAYS, _run(_slide(LN10 + 0.002))) is not True

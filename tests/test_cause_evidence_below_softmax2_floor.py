"""A cross-entropy floored well above 0 beside a near-perfect accuracy (ACC012): a double softmax
(or a sigmoid output into a softmax loss) can never score below ln(1 + (k - 1) / e), so a loss
gone clearly under that floor for the class count the first loss implies speaks against both
(qa_real49's LSTM tagger with F.log_softmax over the sequence axis: loss ln 15 -> 1.50, below
that floor's 1.82, accuracy 0.998, read as logits_loss_mismatch 57 %)."""

from __future__ import annotations

import math

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

BELOW = "the loss fell to"


def _floored(k: int, floor: float, acc_last: float) -> dict[str, np.ndarray]:
    fall = np.exp(-np.arange(40) / 4.0)
    loss = floor + (math.log(k) - floor) * fall
    return {"train/loss": loss, "val/loss": loss * 0.995, "val/accuracy": acc_last - (acc_last - 0.3) * fall}


def test_a_loss_under_the_double_softmax_floor_argues_against_squashing_twice():
    run = _run(_floored(15, 1.50, 0.998))  # floor of a double softmax over 15: ln(1 + 14/e) = 1.82
    assert _fired("logits_loss_mismatch", BELOW, run) is True
    assert _fired("activation_on_output", BELOW, run) is True


def test_a_loss_resting_on_the_double_softmax_floor_does_not():
    floor = math.log(1.0 + 9.0 / math.e)  # ten classes: 1.46, where a double softmax stops
    run = _run(_floored(10, floor * 1.02, 0.97))
    assert _fired("logits_loss_mismatch", BELOW, run) is not True
    assert _fired("activation_on_output", BELOW, run) is not True


def test_a_healthy_fit_far_below_the_floor_has_no_acc012_to_explain():
    run = _run(_floored(10, 0.05, 0.98))  # the loss fell by more than half: no ACC012, no item
    assert _fired("logits_loss_mismatch", BELOW, run) is not True

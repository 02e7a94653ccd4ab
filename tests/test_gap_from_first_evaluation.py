"""qa_real44's scaler-fit-on-train miss, in general form: a validation loss never within 5x of
the training loss speaks against overfitting (the gap was there from the first evaluation)."""

from __future__ import annotations

import numpy as np

from tests.cause_evidence import evidence_holds, series_run

NEVER_5X = "validation loss was never within 5x"


def test_a_gap_apart_from_the_first_evaluation_speaks_against_overfitting():
    e = np.arange(30.0)
    train = 0.6 * 0.85**e + 0.01
    val = 4.0 + 20.0 * e  # raw validation inputs: 7x at the first evaluation, then far apart
    run = series_run({"loss": train, "val/loss": val})
    assert evidence_holds("overfitting", NEVER_5X, run) is True


def test_overfitting_that_opens_from_near_one_is_not_5x_apart():
    e = np.arange(30.0)
    train = 1.0 * 0.85**e + 0.01
    val = np.maximum(1.05 * 0.85**e, 0.25) + 0.01 * e
    run = series_run({"loss": train, "val/loss": val})
    assert evidence_holds("overfitting", NEVER_5X, run) is False

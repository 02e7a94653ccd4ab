"""loss_sign_flipped counter-evidence: a positive loss that settles at the uniform guess ln(C),
no higher than it started. Ascent on a cross-entropy drives it past ln(C) without bound, so a
loss resting there is a model that cannot (or does not) fit the classes (gapsj48: qa_jax48's
6-parameter linear model on circles, loss 0.771 -> 0.694 = ln 2, read as a flipped sign at
46 %). Labelled corpus: 0 of 170 loss_sign_flipped runs end so, ~550 runs of other causes do."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds, series_run

SAYS = "the loss settles at the uniform guess"
BINARY = {"data": {"num_classes": 2}}


def _curve(first: float, last: float, n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.linspace(first, last, n) + rng.normal(0.0, 0.004, n)


def test_a_loss_that_falls_to_ln2_and_rests_there_counts_against_ascent():
    run = series_run({"train/loss": _curve(0.77, 0.694), "train/accuracy": np.linspace(0.63, 0.52, 60)}, BINARY)
    assert evidence_holds("loss_sign_flipped", SAYS, run) is True


def test_a_loss_that_climbs_from_chance_is_no_such_evidence():
    run = series_run({"train/loss": _curve(0.69, 3.5), "train/accuracy": np.linspace(0.5, 0.1, 60)}, BINARY)
    assert evidence_holds("loss_sign_flipped", SAYS, run) is not True


def test_a_loss_that_rose_to_ln2_from_below_is_no_such_evidence():
    run = series_run({"train/loss": _curve(0.62, 0.70)}, BINARY)
    assert evidence_holds("loss_sign_flipped", SAYS, run) is not True


def test_a_loss_that_learned_well_below_chance_is_no_such_evidence():
    run = series_run({"train/loss": _curve(0.69, 0.1)}, BINARY)
    assert evidence_holds("loss_sign_flipped", SAYS, run) is not True

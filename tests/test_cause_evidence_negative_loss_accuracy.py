"""A loss that runs negative while the accuracy climbs is being minimised (binary cross-entropy
on class ids > 1 floors below 0; qa_jax46's Keras one-sigmoid run: loss -0.78 -> -11.9,
accuracy 0.25 -> 0.49), not ascended: gradient ascent drives the accuracy down."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "the accuracy climbs"


def _negative_loss() -> np.ndarray:
    return -11.9 + 11.1 * np.exp(-np.arange(25) / 2.0)


def test_a_negative_loss_with_a_climbing_accuracy_is_not_ascent():
    run = _run({"train/loss": _negative_loss(), "train/accuracy": np.linspace(0.25, 0.49, 25)})
    assert _fired("loss_sign_flipped", SAYS, run) is True


def test_validation_accuracy_alone_counts_too():
    run = _run({"train/loss": _negative_loss(), "val/accuracy": np.linspace(0.25, 0.5, 25)})
    assert _fired("loss_sign_flipped", SAYS, run) is True


def test_a_falling_accuracy_is_what_ascent_does():
    run = _run({"train/loss": _negative_loss(), "train/accuracy": np.linspace(0.5, 0.1, 25)})
    assert _fired("loss_sign_flipped", SAYS, run) is not True


def test_a_positive_loss_is_not_this_item():
    run = _run({"train/loss": np.geomspace(2.3, 0.3, 25), "train/accuracy": np.linspace(0.25, 0.9, 25)})
    assert _fired("loss_sign_flipped", SAYS, run) is not True

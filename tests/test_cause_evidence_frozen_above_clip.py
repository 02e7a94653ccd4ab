"""A classifier's loss frozen above 16.2 nats, beyond the cross-entropy a saturated classifier
reaches where probabilities are clipped at 1e-7 (-ln 1e-7 = 16.1), is the level of a squared
error on class ids (Keras loss='mse' on integer labels against a softmax head: about the mean
of y^2, 27.5 for ten classes; qa_begin45). A frozen saturated cross-entropy (10-16) is not."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "the loss is frozen at"


def _frozen(level: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "train/loss": level + 1e-4 * rng.standard_normal(25),
        "val/accuracy": 0.1 + 0.01 * rng.standard_normal(25),
    }


def test_a_loss_frozen_at_the_mean_square_of_class_ids_is_the_loss_choice():
    assert _fired("wrong_loss_function", SAYS, _run(_frozen(27.51))) is True


def test_a_saturated_clipped_cross_entropy_is_not():
    assert _fired("wrong_loss_function", SAYS, _run(_frozen(14.5))) is not True


def test_a_falling_loss_is_not_frozen():
    run = _run({"train/loss": np.geomspace(40.0, 18.0, 25), "val/accuracy": np.linspace(0.1, 0.5, 25)})
    assert _fired("wrong_loss_function", SAYS, run) is not True

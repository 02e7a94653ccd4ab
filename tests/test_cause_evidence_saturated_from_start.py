"""Outputs saturated (LOSS018: the loss per wrong answer far above ln C) from the first logged
point, with a loss that never rose above that start, were saturated before the updates could
push them there - a weight init of a huge scale; an LR too high saturates them by climbing
first (qa_mixed46's Keras RandomNormal(0.6) churn model: 16.1 nats per error from epoch 0,
read as lr_too_high)."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "the loss is {loss.per_error} nats per wrong answer from the first logged point"


def test_saturated_from_the_first_point_is_the_init():
    acc = np.full(15, 0.6587)
    acc[0] = 0.642
    loss = 16.1 * (1.0 - acc)
    assert _fired("bad_weight_init", SAYS, _run({"train/loss": loss, "train/accuracy": acc})) is True


def test_saturated_after_a_climb_is_not():
    acc = np.linspace(0.6, 0.35, 15)
    loss = np.concatenate([[1.2, 2.5, 5.0], 16.1 * (1.0 - acc[3:])])
    assert _fired("bad_weight_init", SAYS, _run({"train/loss": loss, "train/accuracy": acc})) is not True


def test_a_loss_near_chance_per_error_is_not_saturated():
    acc = np.linspace(0.5, 0.8, 15)
    loss = 0.69 * (1.0 - acc) / 0.5
    assert _fired("bad_weight_init", SAYS, _run({"train/loss": loss, "train/accuracy": acc})) is not True

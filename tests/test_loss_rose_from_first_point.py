"""A training loss whose very first logged value is the lowest of the run and which ends at
twice it or more (rulebook/conditions.yaml loss_rose_from_its_first_point) rose from step 0
and never came back: gradient ascent, a step far too large, accumulating gradients. A penalty
(too_much_regularization) holds the data loss up but cannot lift it there for good - on the
labelled corpus the condition holds on 61 runs (loss_sign_flipped 27, lr_too_high 12, ...),
none of them too_much_regularization or healthy. qa_jax47's linen autoencoder under
apply_updates(params, grads) (MSE 0.187 -> 0.448 -> 0.641 by step 20, then flat at 0.645)
led with too_much_regularization at 29 %."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

SAYS = "the training loss rose from"


def _ascent_into_a_bound() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([[0.187, 0.448, 0.641], 0.645 + 0.003 * rng.standard_normal(70)])


def test_a_rise_from_the_first_point_counts_against_regularization():
    assert _holds("too_much_regularization", SAYS, _run({"train/loss": _ascent_into_a_bound()})) is True


def test_a_low_first_batch_then_a_fall_does_not():
    # the first batch happened to score low, the loss then fell below it: no ascent
    loss = np.concatenate([[0.3, 0.9], 0.8 * 0.95 ** np.arange(60)])
    assert _holds("too_much_regularization", SAYS, _run({"train/loss": loss})) is not True


def test_a_loss_held_up_by_a_penalty_does_not():
    # a penalty-dominated loss: it falls a little and stays high, never twice its start
    loss = 2.3 - 0.2 * (1 - np.exp(-np.arange(60) / 10.0))
    assert _holds("too_much_regularization", SAYS, _run({"train/loss": loss})) is not True

"""A validation loss bit-identical at every evaluation beside a training loss that only
scatters between batches (no downward trend, loss.tau > 0, though a high first batch makes
its drop reach 10 %) - rulebook/conditions.yaml val_loss_frozen_beside_noisy_training_loss:
the evaluated weights never moved (qa_jax47's nnx two-tower whose loss closed over the global
model: val 1.2014 at all 12 evaluations, batch losses 0.85-1.8, no LR logged - lr_schedule_bad
led at 26 % on the learned layer's "validation loss frozen"). It weighs for
gradients_not_flowing and updates_not_applied alike and firmly against lr_schedule_bad when no
LR is logged (a schedule that decays too early moves the weights, and the training loss, over
its first steps). Not for a loss that fell and then froze, nor one frozen at 0."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

FROZE = "the validation loss is {val_loss.last} at every evaluation while"
SCHEDULE = "the validation loss is {val_loss.last} at every evaluation and the training loss never"


#: the two-tower's logged batch losses (every 20 steps), divided by its frozen validation loss
BATCHES = np.array([
    1.8043, 1.2324, 1.1304, 1.1712, 0.8493, 1.4779, 1.1225, 1.1917, 1.0208, 1.4443, 1.1738, 1.1482, 1.1116, 1.7654,
    1.2625, 1.2512, 1.3235, 1.1978, 1.0062, 1.6302, 1.0718, 1.2365, 0.9593, 1.0938, 1.1998, 1.5635, 1.2740, 1.2994,
    1.3439, 1.2501]) / 1.2014  # fmt: skip


def _scatter(level: float) -> np.ndarray:
    return level * BATCHES


def _series(train: np.ndarray, val: float, lr: bool = False) -> dict[str, np.ndarray]:
    out = {"train/loss": train, "val/loss": np.full(12, val)}
    if lr:
        out["train/lr"] = np.full(train.size, 3e-3)
    return out


def test_frozen_weights_with_noisy_batches_weigh_for_the_frozen_causes():
    run = _run(_series(_scatter(1.2014), 1.2014))
    assert _holds("gradients_not_flowing", FROZE, run) is True
    assert _holds("updates_not_applied", FROZE, run) is True
    assert _holds("lr_schedule_bad", SCHEDULE, run) is True


def test_a_logged_lr_leaves_the_schedule_to_its_own_evidence():
    run = _run(_series(_scatter(1.2014), 1.2014, lr=True))
    assert _holds("gradients_not_flowing", FROZE, run) is True
    assert _holds("lr_schedule_bad", SCHEDULE, run) is not True


def test_a_loss_that_fell_then_froze_does_not():
    train = np.r_[2.45, 2.0, 1.7, 1.5, np.full(26, 1.386)]
    assert _holds("gradients_not_flowing", FROZE, _run(_series(train, 1.386))) is not True


def test_a_loss_frozen_at_zero_does_not():
    # a categorical cross-entropy over one unit: 0 whatever the weights (LOSS016's other reading)
    assert _holds("updates_not_applied", FROZE, _run(_series(_scatter(4e-8), 3.3e-8))) is not True

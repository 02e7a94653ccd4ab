"""Learning-rate facts read on a schedule: a step decay of exactly 100x counts as reaching
1 % of the peak (float32 logging included), a loss blow-up is placed on the logged LR curve,
and a loss that starts below 0 and falls further did not explode (qa_jax46, qa_mixed46)."""

import numpy as np

from traindx.signals.compare import lr_facts
from traindx.signals.curve import curve_facts
from traindx.signals.lronset import lr_at_onset


def test_a_100x_step_decay_logged_in_float32_reaches_one_percent():
    # optax piecewise 0.05 -> 0.0005 at step 6 of 704, read back from float32 event files
    lr = np.r_[np.full(6, 0.05), np.full(698, 0.0005)].astype(np.float32).astype(np.float64)
    f = lr_facts(np.arange(704), lr)
    assert f["zero_step"] == 6
    assert 0.0 < f["zero_progress"] < 0.01


def test_a_30x_step_decay_does_not_reach_one_percent():
    lr = np.r_[np.full(6, 0.05), np.full(698, 0.05 / 30)]
    assert lr_facts(np.arange(704), lr)["zero_step"] == -1


def test_blow_up_placed_on_a_warm_up():
    # Lightning LambdaLR warm-up 0.025 -> 0.5 in 20 steps of 5, constant after
    steps = np.arange(0, 120, 5)
    lr = np.minimum(0.025 * (np.arange(steps.size) + 1), 0.5)
    f = lr_at_onset(steps, lr, 84)
    assert f["explode_over_first"] == 17.0  # 0.425 at step 80, the last logged at or before 84
    assert abs(f["explode_over_max"] - 0.85) < 1e-12


def test_blow_up_before_the_lr_was_logged_or_at_a_flat_lr():
    assert lr_at_onset(np.arange(10, 20), np.full(10, 0.1), 5) == {"explode_over_first": -1.0, "explode_over_max": -1.0}
    assert lr_at_onset(np.arange(20), np.full(20, 0.1), -1)["explode_over_first"] == -1.0
    assert lr_at_onset(np.arange(20), np.full(20, 0.1), 12) == {"explode_over_first": 1.0, "explode_over_max": 1.0}


def test_a_negative_loss_that_falls_further_did_not_explode():
    y = np.r_[-0.784, -3.1, -6.2, -8.8, -10.5, -11.4, -11.8, np.full(40, -11.9)]
    assert curve_facts(np.arange(y.size), y)["explode_step"] == -1


def test_a_negative_loss_that_rises_tenfold_and_a_positive_one_that_runs_negative_explode():
    up = np.r_[np.full(5, -1.0), -0.5, 1.0, 4.0, 12.0, np.full(20, 30.0)]
    assert curve_facts(np.arange(up.size), up)["explode_step"] == 8
    down = np.r_[np.full(5, 1.0), -2.0, -20.0, -40.0, np.full(20, -60.0)]
    assert curve_facts(np.arange(down.size), down)["explode_step"] == 6


def test_an_lr_logged_as_zero_throughout_has_no_decay_point():
    # updates_not_applied runs that log lr 0 are LR003's, not a schedule that decayed
    assert lr_facts(np.arange(50), np.zeros(50))["zero_step"] == -1

"""signals/compare.py lr_response: how far a loss moved while its logged LR moved (LR004)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.signals.compare import lr_response

ONECYCLE = np.array([0.00105, 0.00282, 0.00523, 0.00762, 0.00935, 0.01, 0.0099, 0.0096, 0.009, 0.0083,
                     0.0074, 0.0064, 0.0054, 0.0043, 0.0033, 0.0023, 0.0015, 0.0008, 0.0001, 0.0])
EPOCHS = np.arange(1, 21)


def test_a_saturated_output_ignores_a_onecycle_schedule():
    # qa_mixed42's tanh autoencoder on 0-16 pixels: validation MSE 50.86 -> 50.81 from epoch 2 on
    flat = np.array([52.08, 50.861, 50.838, 50.83, 50.825, 50.82, 50.818, 50.815, 50.813, 50.812,
                     50.811, 50.81, 50.81, 50.809, 50.809, 50.809, 50.809, 50.8088, 50.8088, 50.8088])
    d = lr_response(EPOCHS, ONECYCLE, EPOCHS, flat)
    assert d["lr_move"] == pytest.approx(0.01 / 0.0015)  # read where the LR is a tenth of its peak or more
    assert d["loss_move"] < 0.01


def test_a_learning_model_moves_with_the_schedule():
    d = lr_response(EPOCHS, ONECYCLE, EPOCHS, 40.0 * 0.93 ** np.arange(20))
    assert d["loss_move"] > 0.5


def test_a_loss_flat_after_the_lr_decayed_to_zero_is_not_read():
    # a schedule that decays 10x per epoch: the loss stops once the LR is ~0 (lr_schedule_bad)
    lr = 0.01 * 0.1 ** np.arange(20)
    loss = np.r_[2.0, 1.2, 1.0, 0.97, np.full(16, 0.969)]
    assert lr_response(EPOCHS, lr, EPOCHS, loss) == {}


def test_too_few_points_no_positive_lr_or_a_loss_outside_the_lr_axis_say_nothing():
    assert lr_response(EPOCHS[:9], ONECYCLE[:9], EPOCHS[:9], np.ones(9)) == {}  # 7 points after the opening
    assert lr_response(EPOCHS, np.zeros(20), EPOCHS, np.ones(20)) == {}
    assert lr_response(EPOCHS[:10], ONECYCLE[:10], EPOCHS, np.ones(20)) == {}  # loss logged past the LR

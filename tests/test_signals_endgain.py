"""Still improving at the end, by more than the run's own noise, from few evaluations
(traindx/signals/endgain.py). The share of its plan a run covers: tests/test_plan_share.py."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.signals.endgain import (
    end_gain,
    eval_end_gain,
    second_diff_noise,
    step_loss_end_gain,
    windows,
)


def test_steady_fall_of_few_evaluations_is_still_improving():
    g = eval_end_gain(np.array([0.473, 0.411, 0.354, 0.318]))
    assert g["end_z"] > 3.0 and g["end_share"] > 0.2 and g["end_steady"] == 1.0 and g["end_points"] == 4.0


def test_plateaued_last_third_is_converged():
    g = eval_end_gain(np.array([1.0, 0.8, 0.75, 0.74, 0.745, 0.74]))
    assert g["end_z"] < 1.0 and g["end_share"] < 0.05


def test_flat_series_has_no_gain():
    g = eval_end_gain(np.array([1.11, 1.07, 1.04, 1.03, 1.03]))
    assert g["end_z"] == 0.0 and g["end_share"] == 0.0 and g["end_steady"] == 0.0


def test_too_few_points_say_nothing():
    assert eval_end_gain(np.array([1.0, 0.9])) == {}
    assert eval_end_gain(np.array([1.0, np.nan, 0.9])) == {}


def test_noise_from_second_differences_ignores_a_linear_trend():
    assert second_diff_noise(np.array([5.0, 4.0, 3.0, 2.0, 1.0])) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    noisy = np.linspace(5.0, 1.0, 400) + rng.normal(0.0, 0.1, 400)
    assert 0.07 < second_diff_noise(noisy) < 0.14


def test_end_gain_scales_with_noise():
    v = np.array([2.0, 1.8, 1.6, 1.4, 1.2, 1.0])
    assert end_gain(v, 0.01)["end_z"] > 10 * end_gain(v, 0.1)["end_z"] * 0.9


def test_per_step_loss_by_epochs():
    rng = np.random.default_rng(1)
    steps = np.arange(60)
    falling = 2.3 * 0.99**steps + rng.normal(0.0, 0.05, 60)
    assert len(windows(steps, falling, 15)) == 4  # its four epochs
    assert step_loss_end_gain(steps, falling, 15)["end_z"] > 5.0
    converged = 0.5 + np.exp(-steps / 5.0) + rng.normal(0.0, 0.05, 60)
    assert step_loss_end_gain(steps, converged, 15)["end_z"] < 1.5
    assert step_loss_end_gain(steps[:8], falling[:8], None) == {}  # under three windows of three

"""loss.rise_tau (traindx.signals.curve): the trend of a curve from its best (smoothed) value
on - the shape accumulating gradients leave (a fall, then a steady worsening as the effective
step grows) against a minimum at the end or noise around a plateau."""

from __future__ import annotations

import numpy as np

from traindx.signals.curve import curve_facts


def test_fall_then_steady_rise_trends_up_after_the_best():
    t = np.arange(80)
    y = np.where(t < 30, 2.3 * 0.93**t, 2.3 * 0.93**30 * 1.06 ** (t - 30))
    f = curve_facts(t, y)
    assert 0.25 < f["min_progress"] < 0.5
    assert f["rise_tau"] > 0.9


def test_a_run_best_at_its_end_has_no_trend_after_it():
    t = np.arange(80)
    assert curve_facts(t, 2.3 * 0.95**t)["rise_tau"] == 0.0  # fewer than 4 points after the best


def test_noise_around_a_plateau_has_a_weak_trend_after_its_best():
    rng = np.random.default_rng(0)
    t = np.arange(200)
    y = 0.7 + 0.02 * rng.standard_normal(200)
    assert abs(curve_facts(t, y)["rise_tau"]) < 0.5


def test_rise_tau_reads_the_finite_part_only():
    t = np.arange(40)
    y = np.where(t < 15, 2.3 * 0.9**t, 2.3 * 0.9**15 * 1.3 ** (t - 15))
    y[32:] = np.nan  # the rise ran off to NaN
    assert curve_facts(t, y)["rise_tau"] > 0.9

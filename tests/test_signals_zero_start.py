"""Relative facts (change, peak_ratio, rise_rel, half_change, rise) of a series that starts at
or near 0 are bounded: a bounded quality metric (F1, recall, IoU, accuracy at step 0) is read
against a share of its full scale, any other series against a millionth of its own largest
magnitude. Before, an F1 starting at exactly 0 "rose" 3.4e12 (a division by 1e-12) and the
learned layer read that as evidence (qa_fresh35: insufficient_data x6.2e7)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts
from traindx.signals.curve import QUALITY_FLOOR, ZERO_SHARE, curve_facts, quality_floor

RELATIVE = ("change", "peak_ratio", "rise_rel", "half_change", "rise")


def _run(series: dict[str, np.ndarray]) -> Run:
    run = Run(id="case", context=RunContext.model_validate({}))
    for key_text, values in series.items():
        steps = np.arange(values.size, dtype=np.int64)
        run.add(Series(key=SeriesKey.parse(key_text), steps=steps, values=np.asarray(values, dtype=float), unit="epoch"))
    return run


def test_a_quality_metric_starting_at_zero_gives_bounded_relative_facts():
    f1 = np.r_[0.0, 0.0, np.linspace(0.02, 0.17, 18)]  # val/f1_micro from exactly 0
    loss = 0.64 - 0.003 * np.arange(20)
    facts = compute_facts(_run({"val/f1_micro": f1, "val/loss": loss + 0.01, "train/loss": loss}))
    q = facts["val_quality"]
    assert q["first"] == 0.0
    for k in RELATIVE:
        assert abs(q[k]) <= 1.0 / QUALITY_FLOOR + 1e-9, (k, q[k])
    # the change reads as the metric's absolute change in units of QUALITY_FLOOR of its scale
    assert q["change"] == pytest.approx((q["last"] - q["first"]) / QUALITY_FLOOR)


def test_the_floor_follows_the_metrics_scale_fraction_or_percent():
    frac = np.r_[0.0, np.linspace(0.1, 0.8, 19)]
    assert quality_floor(frac) == pytest.approx(QUALITY_FLOOR)
    assert quality_floor(100 * frac) == pytest.approx(100 * QUALITY_FLOOR)
    a, b = curve_facts(np.arange(20), frac, quality_floor(frac)), curve_facts(np.arange(20), 100 * frac, quality_floor(100 * frac))
    for k in RELATIVE:  # the same facts whether logged as a fraction or a percent
        assert a[k] == pytest.approx(b[k]), k


def test_a_start_away_from_zero_keeps_its_relative_facts():
    """The floor only matters at a start near 0: an accuracy from 0.3 and a loss that
    explodes 1e5-fold from 2.3 keep the same facts as before the floor."""
    acc = np.linspace(0.3, 0.9, 20)
    f = curve_facts(np.arange(20), acc, quality_floor(acc))
    assert f["change"] == pytest.approx((f["last"] - f["first"]) / f["first"])
    boom = 2.3 * np.r_[np.ones(10), np.logspace(0, 5, 10)]
    g = curve_facts(np.arange(20), boom)
    assert g["peak_ratio"] == pytest.approx(boom.max() / g["first"]) and g["peak_ratio"] > 1e4


def test_a_series_starting_at_exactly_zero_is_read_against_its_own_magnitude():
    upd = np.r_[0.0, 0.0, np.full(18, 1e-3)]  # an update ratio under an LR warm-up from 0
    f = curve_facts(np.arange(20), upd)
    assert f["peak_ratio"] == pytest.approx(1.0 / ZERO_SHARE)
    for k in RELATIVE:
        assert abs(f[k]) <= 1.0 / ZERO_SHARE + 1e-6, (k, f[k])


def test_a_loss_exploding_far_beyond_1e6_keeps_its_ratio_and_explosion_step():
    """The zero floor comes from the series' magnitude near its start, not its largest: a loss
    that grows from 2.3 to 1e33 (gradient ascent) keeps its peak ratio and explodes where it
    passes 10x its start, not where it passes 1e-5 of its own maximum."""
    boom = 2.3 * np.r_[np.ones(40), np.logspace(0, 33, 60)]
    g = curve_facts(np.arange(100), boom)
    assert g["peak_ratio"] == pytest.approx(boom.max() / 2.3, rel=1e-6)
    assert g["explode_step"] == int(np.argmax(boom > 23.0))

"""A loss non-finite at the first batch's forward pass (step 0 or 1 of a per-step log) came
before any update, so no step size, gradient growth or update sign made it (gapsj48: qa_jax48's
log-cosh overflow, inf at step 0, read as lr_too_high). A per-epoch mean, or a per-step log
whose first point comes after some updates, gives no such evidence."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds

from traindx.schema import Run, RunContext, Series, SeriesKey

NAN = np.full(20, np.nan)


def _run(values: np.ndarray, first_step: int, unit: str = "step", every: int = 1) -> Run:
    run = Run(id="case", context=RunContext())
    steps = first_step + np.arange(values.size, dtype=np.int64) * every
    run.add(Series(key=SeriesKey.parse("train/loss"), steps=steps, values=values, unit=unit))
    return run


def _holds(run: Run) -> bool | None:
    """The item on lr_too_high and on loss_sign_flipped (the same shared condition)."""
    says = "the loss was already non-finite at step"
    lr, sign = evidence_holds("lr_too_high", says, run), evidence_holds("loss_sign_flipped", says, run)
    assert lr == sign
    return lr


def test_inf_at_step_zero_is_before_any_update():
    assert _holds(_run(np.r_[np.inf, NAN], 0)) is True


def test_nan_at_step_one_of_a_one_based_log_is_before_any_update():
    assert _holds(_run(np.r_[np.nan, 2.0, 3.0], 1)) is True


def test_a_first_point_after_updates_is_no_such_evidence():
    assert _holds(_run(np.r_[np.inf, NAN], 100, every=100)) is not True


def test_a_finite_first_step_then_nan_is_no_such_evidence():
    assert _holds(_run(np.r_[2.3, 2.1, np.nan, NAN], 0)) is not True


def test_a_per_epoch_mean_is_no_such_evidence():
    assert _holds(_run(np.r_[np.inf, NAN[:5]], 0, unit="epoch")) is not True

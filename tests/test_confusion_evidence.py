"""Cause evidence that separates the causes log-only runs confuse most (confusion21).

Counted over the labelled corpus (benchmarks/fact_separation.py, accuracy.py --per-cause):

* a loss that grew before it went non-finite (a finite value above 100, or a peak 10x the
  start) is exploding_gradients, not NaN in the data (which makes the loss NaN at the first
  bad batch without growth) nor an op that overflows (-ln of a clamped 0 stays below ~100); a
  regression loss may sit above 100;
* small steps keep the validation loss creeping down to the end: one that stopped falling
  while it still moved speaks against lr_too_low, and so does a logged LR of 1e-3 or more;
* a training set learned while the validation loss never improved is distribution_shift,
  on a log-only run as on an adapter's.
"""

from __future__ import annotations

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()
GREW = "the loss grew (largest finite value"


def _run(series: dict[str, np.ndarray], context: dict | None = None) -> Run:
    run = Run(id="case", context=RunContext.model_validate(context or {}))
    for key_text, values in series.items():
        steps = (np.arange(values.size, dtype=np.int64) + 1) * 50 - 1
        run.add(
            Series(key=SeriesKey.parse(key_text), steps=steps, values=np.asarray(values, dtype=float), unit="step")
        )
    return run


def _fired(cause_id: str, says_start: str, run: Run) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    rules = [r for r in cause.evidence if r.says.startswith(says_start)]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    ok, _needs, err = check(rules[0].condition, compute_facts(run))
    assert err is None, err
    return ok


NAN = np.full(5, np.nan)


def test_a_loss_that_grew_before_nan_is_read_as_growth_by_all_three_causes():
    # two finite values logged, the second one huge, then NaN: too few for a curve's peak
    run = _run({"loss": np.concatenate([[2.3, 4.0e4], NAN])})
    assert _fired("exploding_gradients", GREW, run) is True
    assert _fired("nonfinite_in_data", GREW, run) is True  # its counter-evidence
    assert _fired("numerical_instability", GREW, run) is True


def test_a_curve_that_peaked_10x_its_start_before_nan_reads_as_growth():
    loss = np.concatenate([2.3 * 1.25 ** np.arange(12.0), NAN])  # 2.3 -> 27, peak/start 11.6
    assert _fired("exploding_gradients", GREW, _run({"loss": loss})) is True


def test_nan_from_the_first_step_or_without_growth_is_not_growth():
    assert _fired("exploding_gradients", GREW, _run({"loss": np.full(12, np.nan)})) is False
    calm = np.concatenate([2.3 * 0.97 ** np.arange(20.0), NAN])
    assert _fired("nonfinite_in_data", GREW, _run({"loss": calm})) is False
    assert _fired("exploding_gradients", GREW, _run({"loss": calm})) is False


def test_a_regression_loss_above_20_is_not_growth_by_its_size_alone():
    # unscaled regression targets: an MSE of 5e4 at the start is normal there
    loss = np.concatenate([5.0e4 * 0.97 ** np.arange(20.0), NAN])
    run = _run({"loss": loss}, {"data": {"task": "regression"}})
    assert _fired("exploding_gradients", GREW, run) is False
    assert _fired("nonfinite_in_data", GREW, run) is False
    # the same curve on a classification run (or a log-only run, task unknown) is growth
    assert _fired("nonfinite_in_data", GREW, _run({"loss": loss})) is True


TRAIN = 2.3 * 0.995 ** np.arange(60.0)


def test_a_validation_loss_creeping_down_to_the_end_is_what_small_steps_give():
    val = 2.3 - 0.004 * np.arange(20.0)
    run = _run({"loss": TRAIN, "val/loss": val})
    assert _fired("lr_too_low", "the validation loss stopped falling", run) is False


def test_a_validation_loss_that_stopped_falling_speaks_against_small_steps():
    rng = np.random.default_rng(0)
    plateau = np.concatenate([2.3 - 0.05 * np.arange(8.0), 1.9 + 0.01 * rng.standard_normal(12)])
    run = _run({"loss": TRAIN, "val/loss": plateau})
    assert _fired("lr_too_low", "the validation loss stopped falling", run) is True
    rising = np.concatenate([2.3 - 0.05 * np.arange(8.0), 1.95 + 0.02 * np.arange(12.0)])
    assert _fired("lr_too_low", "the validation loss stopped falling", _run({"loss": TRAIN, "val/loss": rising})) is True


def test_a_bit_identical_validation_loss_is_left_to_the_tiny_lr_reading():
    # printed to a few digits, a tiny LR leaves the validation loss unchanged: no counter-evidence
    run = _run({"loss": TRAIN, "val/loss": np.full(20, 2.302)})
    assert _fired("lr_too_low", "the validation loss stopped falling", run) is False


def test_a_logged_lr_of_1e_3_is_not_a_small_step():
    lr = np.full(60, 1e-3)
    assert _fired("lr_too_low", "the logged LR reaches", _run({"loss": TRAIN, "lr": lr})) is True
    assert _fired("lr_too_low", "the logged LR reaches", _run({"loss": TRAIN, "lr": lr / 100})) is False
    # an adapter's configured LR is read by the ctx.lr items instead
    run = _run({"loss": TRAIN, "lr": lr}, {"optimizer": {"name": "sgd", "lr": 1e-3}})
    assert _fired("lr_too_low", "the logged LR reaches", run) is False


def test_a_learned_training_set_with_a_validation_loss_that_never_improved_on_a_log_only_run():
    train = 2.3 * 0.95 ** np.arange(60.0)  # down 95 %
    val = 2.4 + 0.05 * np.arange(20.0)  # never below its first value, 3x the training loss at the end
    run = _run({"loss": train, "val/loss": val})
    assert _fired("distribution_shift", "the training loss fell by", run) is True
    assert _fired("labels_corrupted", "the training loss fell by", run) is True  # its counter-evidence
    improved = np.concatenate([2.4 - 0.1 * np.arange(8.0), 1.7 + 0.05 * np.arange(12.0)])
    assert _fired("distribution_shift", "the training loss fell by", _run({"loss": train, "val/loss": improved})) is False


def test_the_log_of_a_clamped_probability_is_not_growth():
    # -ln(1e-12) = 27.6: a log(0) guarded by a clamp gives a large but bounded loss, then NaN
    # (two finite values: the size alone decides; a longer curve's peak 10x its start still reads)
    loss = np.concatenate([[2.3, 27.63], NAN])
    assert _fired("exploding_gradients", GREW, _run({"loss": loss})) is False
    assert _fired("numerical_instability", GREW, _run({"loss": loss})) is False

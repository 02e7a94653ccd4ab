"""Cause evidence on WHEN and HOW a loss turned non-finite (pairs27).

Counted over the labelled corpus (benchmarks/fact_separation.py, symptom rates per cause):

* a step too large, or gradients that explode, make the loss grow before it turns NaN:
  several finite values that never rose above 1.5x the first, then NaN, speak against
  lr_too_high and exploding_gradients (0 of 61 / 1 of 50 log-only runs, 0 of 40 / 29 adapter
  runs; an op that overflows or a NaN row does it without growth);
* every epoch passes over every row, so a NaN row in the data makes the loss NaN within the
  first epoch: a loss finite for more than 1.5 epochs (or, the epoch length unknown, 15 % of
  the run) before its first NaN speaks against nonfinite_in_data (0 of 129 of its runs).
"""

from __future__ import annotations

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()
NO_GROWTH = "the loss turned non-finite at step"
STAYED_FINITE = "the loss stayed finite for"


def _run(loss: np.ndarray, context: dict | None = None) -> Run:
    run = Run(id="case", context=RunContext.model_validate(context or {}))
    steps = np.arange(loss.size, dtype=np.int64)
    run.add(
        Series(
            key=SeriesKey.parse("loss"),
            steps=steps,
            values=np.asarray(loss, dtype=float),
            unit="step",
        )
    )
    return run


def _fired(cause_id: str, says_start: str, run: Run) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    rules = [r for r in cause.evidence if r.says.startswith(says_start)]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    ok, _needs, err = check(rules[0].condition, compute_facts(run))
    assert err is None, err
    return ok


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def test_nan_after_a_flat_stretch_speaks_against_divergence():
    # ten values at chance level (ln 10), no growth, then NaN for the rest of the run
    flat = np.concatenate([2.30 + 0.01 * np.sin(np.arange(10.0)), _nan(200)])
    assert _fired("lr_too_high", NO_GROWTH, _run(flat)) is True
    assert _fired("exploding_gradients", NO_GROWTH, _run(flat)) is True
    # a falling loss that then turns NaN (an op that overflowed late) never grew either
    falling = np.concatenate([2.3 * 0.98 ** np.arange(80.0), _nan(40)])
    assert _fired("lr_too_high", NO_GROWTH, _run(falling)) is True


def test_nan_after_growth_or_too_few_values_is_not_read_as_no_growth():
    grew = np.concatenate([2.3 * 1.3 ** np.arange(10.0), _nan(50)])  # 2.3 -> 24, peak 10.6x
    assert _fired("lr_too_high", NO_GROWTH, _run(grew)) is False
    assert _fired("exploding_gradients", NO_GROWTH, _run(grew)) is False
    # a rise to 1.8x before the NaN is growth enough (an overshoot climbing)
    climbed = np.concatenate([np.linspace(2.3, 4.2, 8), _nan(50)])
    assert _fired("lr_too_high", NO_GROWTH, _run(climbed)) is False
    # two finite values say nothing of a trend; a huge first value is growth already
    assert _fired("lr_too_high", NO_GROWTH, _run(np.concatenate([[2.3, 2.3], _nan(50)]))) is False
    big = np.concatenate([[500.0, 480.0, 470.0], _nan(50)])
    assert _fired("exploding_gradients", NO_GROWTH, _run(big)) is False
    # a finite loss has nothing to say here
    assert _fired("lr_too_high", NO_GROWTH, _run(2.3 * 0.98 ** np.arange(50.0))) is False


def test_a_loss_finite_past_the_first_epochs_was_not_made_nan_by_the_data():
    late = np.concatenate([2.3 * 0.98 ** np.arange(60.0), _nan(140)])  # NaN at 30 % of the run
    assert _fired("nonfinite_in_data", STAYED_FINITE, _run(late)) is True
    # the epoch length known: step 60 is 3 epochs of 20 steps in
    per_epoch = {"steps_per_epoch": 20}
    assert _fired("nonfinite_in_data", STAYED_FINITE, _run(late, per_epoch)) is True


def test_nan_within_the_first_epoch_is_what_data_does():
    early = np.concatenate([2.3 * 0.99 ** np.arange(8.0), _nan(192)])  # NaN at 4 % of the run
    assert _fired("nonfinite_in_data", STAYED_FINITE, _run(early)) is False
    # the epoch length known, it decides: 60 finite steps of a 50-step epoch are within 1.5 epochs
    # though 30 % of a short run
    within = np.concatenate([2.3 * 0.99 ** np.arange(60.0), _nan(140)])
    assert (
        _fired("nonfinite_in_data", STAYED_FINITE, _run(within, {"steps_per_epoch": 50})) is False
    )
    # NaN from the first value, or too few finite values to speak of a stretch
    assert _fired("nonfinite_in_data", STAYED_FINITE, _run(_nan(50))) is False
    assert (
        _fired("nonfinite_in_data", STAYED_FINITE, _run(np.concatenate([[2.3] * 4, _nan(10)])))
        is False
    )


ADAPTIVE_AT_USUAL_LR = "{ctx.optimizer} with LR"
CRAWL = 2.3 - 0.0005 * np.arange(60.0)  # a loss that creeps down: slow by any reading


def _with_optimizer(name: str, lr: float) -> Run:
    return _run(CRAWL, {"optimizer": {"name": name, "lr": lr}})


def test_an_adaptive_optimizer_at_its_usual_lr_is_not_a_small_step():
    # Adam-style optimizers take steps of about the LR itself: 3e-4 and up is the usual range
    # (0 of 55 labelled lr_too_low adapter runs; optimizer_choice's Adam with eps 1 crawls at 1e-3)
    for name in ("Adam", "adamw", "RMSprop"):
        assert _fired("lr_too_low", ADAPTIVE_AT_USUAL_LR, _with_optimizer(name, 1e-3)) is True
    assert _fired("lr_too_low", ADAPTIVE_AT_USUAL_LR, _with_optimizer("adam", 3e-4)) is True


def test_a_small_adaptive_lr_or_plain_sgd_is_left_to_the_other_items():
    assert _fired("lr_too_low", ADAPTIVE_AT_USUAL_LR, _with_optimizer("adam", 1e-5)) is False
    # SGD's step is LR x gradient: 1e-3 may well be small there (its own item reads >= 0.01)
    assert _fired("lr_too_low", ADAPTIVE_AT_USUAL_LR, _with_optimizer("sgd", 1e-3)) is False
    # 0.01 and above is read by the "not small" item already, not twice
    assert _fired("lr_too_low", ADAPTIVE_AT_USUAL_LR, _with_optimizer("adam", 0.01)) is False


NOT_FALLEN = "the loss turned non-finite at step"


def test_nan_after_a_curve_that_never_fell_speaks_against_an_unstable_op():
    flat = np.concatenate([2.30 + 0.01 * np.sin(np.arange(10.0)), _nan(200)])
    assert _fired("numerical_instability", NOT_FALLEN, _run(flat)) is True
    # the unstable op's own picture: a curve that fell well, then NaN
    fell = np.concatenate([2.3 * 0.95 ** np.arange(60.0), _nan(40)])
    assert _fired("numerical_instability", NOT_FALLEN, _run(fell)) is False
    # a loss that grew before its NaN is read by the growth items, not this one
    grew = np.concatenate([2.3 * 1.3 ** np.arange(10.0), _nan(50)])
    assert _fired("numerical_instability", NOT_FALLEN, _run(grew)) is False

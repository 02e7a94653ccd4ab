"""Evidence that separates the step-size confusions the unseen record and the labelled corpus
share (benchmarks/unseen_reliability.py --confusions; benchmarks/fact_separation.py):

- a loss that first fell for a while and then climbed past twice its start - an instability
  that grew with time, as the summed step of gradients never reset does - argues for
  grad_not_zeroed (a step too large from the first update diverges at once);
- a logged LR that peaks under 5e-3 argues against lr_too_high on a log-only run (the
  adapters' optimizer-aware ctx.lr items judge the rate where an adapter recorded it)."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

GROWS = "the loss fell to its best"
SMALL_LR = "the logged LR peaks at"


def _fell_then_climbed() -> np.ndarray:
    """Falls from 2.3 to 0.9 over the first 30 % of 40 points, then climbs to 9."""
    return np.concatenate([np.linspace(2.3, 0.9, 12), np.geomspace(1.0, 9.0, 28)])


def _diverges_at_once() -> np.ndarray:
    return np.geomspace(2.3, 5e3, 40)


def test_a_loss_that_fell_then_climbed_past_its_start_is_a_growing_step():
    assert _fired("grad_not_zeroed", GROWS, _run({"train/loss": _fell_then_climbed()})) is True


def test_a_loss_that_diverges_from_the_first_update_is_not():
    assert _fired("grad_not_zeroed", GROWS, _run({"train/loss": _diverges_at_once()})) is not True


def test_a_loss_that_fell_then_rose_but_stayed_below_twice_its_start_is_not():
    loss = np.concatenate([np.linspace(2.3, 0.9, 12), np.linspace(1.0, 3.0, 28)])
    assert _fired("grad_not_zeroed", GROWS, _run({"train/loss": loss})) is not True


def test_a_healthy_falling_loss_is_not():
    assert _fired("grad_not_zeroed", GROWS, _run({"train/loss": np.geomspace(2.3, 0.05, 40)})) is not True


def test_a_small_logged_lr_argues_against_a_step_too_large():
    run = _run({"train/loss": _diverges_at_once(), "train/lr": np.full(40, 1e-3)})
    assert _fired("lr_too_high", SMALL_LR, run) is True


def test_a_large_or_tiny_logged_lr_does_not():
    for lr in (0.05, 1e-5):  # a tiny one has its own, stronger item (shared.logged_lr_tiny)
        run = _run({"train/loss": _diverges_at_once(), "train/lr": np.full(40, lr)})
        assert _fired("lr_too_high", SMALL_LR, run) is not True


def test_a_schedule_that_peaks_high_is_judged_by_its_peak():
    lr = np.concatenate([np.linspace(1e-3, 0.1, 10), np.full(30, 0.1)])
    run = _run({"train/loss": _diverges_at_once(), "train/lr": lr})
    assert _fired("lr_too_high", SMALL_LR, run) is not True


def test_no_logged_lr_or_an_adapter_recorded_rate_leaves_it_unread():
    assert _fired("lr_too_high", SMALL_LR, _run({"train/loss": _diverges_at_once()})) is not True
    run = _run({"train/loss": _diverges_at_once(), "train/lr": np.full(40, 1e-3)},
               {"optimizer": {"name": "sgd", "lr": 1e-3}})
    assert _fired("lr_too_high", SMALL_LR, run) is not True

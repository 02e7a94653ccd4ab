"""Evidence that separates step-size confusions the unseen record and the labelled corpus share
(benchmarks/unseen_reliability.py --confusions: grad_not_zeroed <-> lr_too_high,
inputs_not_normalized <-> lr_too_high; benchmarks/fact_separation.py: lr.max orders both pairs):
a logged LR that peaks under 5e-3 argues against lr_too_high on a log-only run (the adapters'
optimizer-aware ctx.lr items judge the rate where an adapter recorded it)."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SMALL_LR = "the logged LR peaks at"


def _diverges_at_once() -> np.ndarray:
    return np.geomspace(2.3, 5e3, 40)


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

"""softmax_wrong_axis over wrong_loss_function when one split's loss is exactly 0 at every
evaluation while the other's stays far from it (LOSS036; gapsw48, qa_wild48's log_softmax over
dim 0 evaluated one row at a time: read as wrong_loss_function 73 %, softmax_wrong_axis 3 %).
A loss blind to the outputs (a softmax over one unit) is 0 on both splits."""

from __future__ import annotations

import numpy as np
from cause_evidence import series_run as _run

import traindx

AGAINST = "the other split's loss stays far from 0"


def _ranked(series: dict[str, np.ndarray]) -> list[str]:
    return [c.id for c in traindx.diagnose(_run(series), learned=False)[0].causes]


def test_one_split_at_zero_beside_a_falling_loss_is_the_batch_axis():
    series = {"train/loss": np.linspace(2.6, 1.7, 30), "val/loss": np.zeros(30), "val/accuracy": np.full(30, 0.312)}
    ranked = _ranked(series)
    assert ranked.index("softmax_wrong_axis") < ranked.index("wrong_loss_function")


def test_both_splits_at_zero_stay_a_loss_blind_to_the_outputs():
    series = {"train/loss": np.full(30, 1e-8), "val/loss": np.zeros(30), "val/accuracy": np.full(30, 0.312)}
    ranked = _ranked(series)
    assert "wrong_loss_function" in ranked
    assert "softmax_wrong_axis" not in ranked or ranked.index("wrong_loss_function") < ranked.index("softmax_wrong_axis")

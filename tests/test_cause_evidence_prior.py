"""Cause evidence that reads a run against its class prior or its logged LR (fa19).

A class-weighted run whose validation accuracy ends clearly above the majority share (beyond
the prior's binomial noise on a validation set of 1/quantum examples) is not "stuck at the
majority class" (counter-evidence cancels that reading); one frozen AT the share is. A bit-identical validation loss under a logged
LR below 1e-6 reads as lr_too_low, not updates_not_applied.
"""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

IMBALANCED = {"data": {"num_classes": 2, "class_counts": [969, 31]}}
LOSS = 0.5 * 0.9 ** np.arange(12.0) + 0.05


def test_val_accuracy_above_the_prior_beyond_its_noise_is_not_stuck_at_majority():
    # 800 validation examples: accuracy moves in steps of 1/800; 0.99125 vs prior 0.969
    counts = np.array([784, 788, 790, 791, 792, 793, 792, 793, 794, 793, 794, 793])
    run = _run(
        {"loss": LOSS, "val/accuracy": counts / 800.0},
        {**IMBALANCED, "flags": {"loss_class_weighted": True}},
    )
    assert _fired("class_imbalance", "yet the validation accuracy", run) is True
    assert _fired("class_imbalance", "the loss is class-weighted", run) is True


def test_val_accuracy_frozen_at_the_prior_is_stuck_at_majority():
    run = _run({"loss": LOSS, "val/accuracy": np.full(12, 777 / 800.0)}, IMBALANCED)
    assert _fired("class_imbalance", "validation accuracy stuck high", run) is True
    assert _fired("class_imbalance", "yet the validation accuracy", run) is False
    assert _fired("class_imbalance", "the loss is class-weighted", run) is False


def test_val_accuracy_within_the_prior_noise_is_still_stuck_at_majority():
    # 100 validation examples: 0.98 vs 0.969 is 1.1 points, within 2 binomial s.e. (3.5 points)
    counts = np.array([97, 98, 97, 98, 98, 97, 98, 98, 97, 98, 98, 98])
    run = _run({"loss": LOSS, "val/accuracy": counts / 100.0}, IMBALANCED)
    assert _fired("class_imbalance", "yet the validation accuracy", run) is False


def test_no_class_counts_no_prior_reading():
    # log-only: no class counts, so the prior cannot clear the frozen accuracy (and the
    # counter-evidence, which reads ctx, stays silent there)
    run = _run({"loss": LOSS, "val/accuracy": np.full(12, 0.99)}, {})
    assert _fired("class_imbalance", "validation accuracy stuck high", run) is True
    assert _fired("class_imbalance", "yet the validation accuracy", run) is False


def test_frozen_val_loss_under_a_tiny_logged_lr_reads_as_lr_too_low():
    flat = np.full(12, 0.6931)
    tiny = {
        "loss": flat + 1e-5 * np.sin(np.arange(12.0)),
        "val/loss": flat,
        "lr": np.full(12, 9.8e-8),
    }
    assert _fired("updates_not_applied", "the logged LR never exceeds", _run(tiny, {})) is True
    frozen = "the logged LR never exceeds {lr.max}: at that step size"
    tiny_lr = "the logged LR never exceeds {lr.max}: far below"  # gapsa42: any LR under 1e-5
    assert _fired("lr_too_low", frozen, _run(tiny, {})) is True
    assert _fired("lr_too_low", tiny_lr, _run(tiny, {})) is True
    usual = {**tiny, "lr": np.full(12, 1e-3)}
    assert _fired("updates_not_applied", "the logged LR never exceeds", _run(usual, {})) is False
    assert _fired("lr_too_low", frozen, _run(usual, {})) is False
    assert _fired("lr_too_low", tiny_lr, _run(usual, {})) is False

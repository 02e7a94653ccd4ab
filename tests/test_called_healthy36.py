"""Issue 10 (a broken run is never healthy): two signatures in a run's own loss curves that no
rule read, on the recorded Q&A runs that showed them (fixtures/qa_fresh35) and their fixed twins.

* GEN013: a validation loss that swings to many times its first value and never improves on it
  (Lightning manual optimization without ``zero_grad``: 0.13 -> 1.84 -> 0.25, called healthy);
* LOSS026: a first loss three orders above every later value (optax.adam(0.5) on a 1-D CNN
  regressor: first epoch 1.6e5, then 23 -> 2.0, called healthy).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx

QA = Path(__file__).resolve().parent.parent / "fixtures" / "qa_fresh35" / "logs"
CASES = [
    (
        "lightning_gru_series_manual_optimization_no_zero_grad_csv_and_tb",
        "GEN013",
        "grad_not_zeroed",
    ),
    ("jax_flax_conv1d_frequency_regression_adam_lr_05_logging_recorder", "LOSS026", "lr_too_high"),
]


@pytest.mark.parametrize(("pair", "code", "cause"), CASES)
def test_buggy_run_is_flagged_and_the_cause_ranked(pair, code, cause):
    d = traindx.diagnose(QA / pair / "buggy")[0]
    assert not d.healthy
    assert code in {s.code for s in d.symptoms}
    assert cause in [c.id for c in d.causes[:3]]


@pytest.mark.parametrize(("pair", "code", "cause"), CASES)
def test_fixed_twin_does_not_fire(pair, code, cause):
    d = traindx.diagnose(QA / pair / "fixed")[0]
    assert code not in {s.code for s in d.symptoms}

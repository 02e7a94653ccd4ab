"""nonfinite_in_data counter-evidence from a finite loss that rose into its first NaN (gapsl43).

NaN rows in the data make the loss NaN at the first batch that holds them, without a rise
before; a finite loss that climbed (1.5x its start or more, rising, its last finite value near
its peak) into the NaN is an optimizer diverging. qa_fresh43's SGD momentum 0.99 Gaussian NLL
(0.45 -> 1.03 over 4 epochs, NaN from epoch 4) was read as nonfinite_in_data 42 %. Labelled
corpus (benchmarks/symptom_rates.py --diff): no nonfinite_in_data run holds it.
"""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "the finite loss rose"
NAN = np.full(21, np.nan)


def test_a_loss_rising_into_the_nan_counts_against_bad_data():
    run = _run({"train/loss": np.r_[0.454, 0.558, 0.787, 1.030, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is True


def test_a_falling_loss_before_the_nan_is_no_counter_evidence():
    run = _run({"train/loss": np.r_[0.9, 0.8, 0.7, 0.65, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is not True


def test_a_bump_that_fell_back_before_the_nan_is_no_counter_evidence():
    run = _run({"train/loss": np.r_[0.5, 1.2, 0.6, 0.5, 0.45, 0.4, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is not True


def test_a_loss_that_grew_tenfold_is_read_by_the_large_loss_item_not_twice():
    run = _run({"train/loss": np.r_[0.9, 50.0, 5e3, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is not True

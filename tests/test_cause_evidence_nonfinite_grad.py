"""nonfinite_in_data counter-evidence from a gradient norm that grew before the NaN (gapsa41).

NaN in the data makes the loss NaN at the first batch that holds it, with a gradient of the
usual size before; a finite gradient norm above 100 before the loss went non-finite is the
model's own arithmetic exploding. Labelled corpus, runs with a non-finite loss, every kind:
0 of 151 nonfinite_in_data runs, 30 of 81 exploding_gradients, 2 of 72 numerical_instability.
qa_fresh41's ReLU RNN (loss 6.97 and gradient norm 344 at step 0, NaN from step 4) was read
as nonfinite_in_data 44 %.
"""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "the gradient norm reached"
NAN = np.full(95, np.nan)


def test_a_huge_gradient_norm_before_the_nan_counts_against_bad_data():
    run = _run({"train/loss": np.r_[6.97, NAN], "train/grad_norm": np.r_[344.5, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is True


def test_an_ordinary_gradient_norm_before_the_nan_is_no_counter_evidence():
    run = _run({"train/loss": np.r_[0.9, 0.8, 0.7, NAN], "train/grad_norm": np.r_[3.1, 2.9, 2.5, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is not True


def test_a_loss_that_grew_is_read_by_the_loss_item_not_twice():
    run = _run({"train/loss": np.r_[0.9, 50.0, 5e3, NAN], "train/grad_norm": np.r_[3.0, 400.0, 9e4, NAN]})
    assert _fired("nonfinite_in_data", SAYS, run) is not True

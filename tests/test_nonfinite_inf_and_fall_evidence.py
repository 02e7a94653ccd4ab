"""Two readings of a loss that turns non-finite (gapsn47).

An inf loss is an overflow: NaN in the inputs or targets propagates as NaN through every op,
so the loss it breaks is NaN, never inf. Labelled corpus, runs with a non-finite loss: inf on
0 of 151 nonfinite_in_data runs (46 of them with inf features or targets), 3 of 80
numerical_instability, 9 of 99 exploding_gradients, 8 of 23 lr_too_high. qa_wild's ReLU RNN
(29.8, inf, then NaN) was read as nonfinite_in_data 35 %.

"The loss fell, then turned non-finite" (shared.nonfinite_after_progress: numerical_instability
x3, lr_too_high x0.3) needs the loss still below its start when it broke: on the labelled runs
every numerical_instability (26) and nonfinite_in_data (6) run it held on ended below its
start; qa_wild45's per-step ReLU RNN loss bounced 1.69 2.77 0.76 2.24 before NaN (one dip, not
a fall) and was read as numerical_instability 42 %.
"""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

INF_SAYS = "the loss reached inf"
FELL_SAYS = "the loss fell by"
NAN = np.full(60, np.nan)


def test_an_inf_loss_counts_against_nan_in_the_data():
    run = _run({"train/loss": np.r_[29.8, np.inf, NAN]})
    assert _fired("nonfinite_in_data", INF_SAYS, run) is True


def test_a_nan_only_loss_is_no_inf_evidence():
    run = _run({"train/loss": np.r_[2.3, 2.2, NAN]})
    assert _fired("nonfinite_in_data", INF_SAYS, run) is not True


def test_an_inf_after_growth_is_read_by_the_large_loss_item_not_twice():
    run = _run({"train/loss": np.r_[1.0, 30.0, 5e4, 1e30, np.inf, NAN]})
    assert _fired("nonfinite_in_data", INF_SAYS, run) is not True


def test_a_bouncing_loss_above_its_start_at_the_nan_did_not_fall():
    run = _run({"train/loss": np.r_[1.69, 2.77, 0.763, 2.24, NAN]})
    assert _fired("numerical_instability", FELL_SAYS, run) is not True
    assert _fired("lr_too_high", FELL_SAYS, run) is not True


def test_a_loss_that_fell_and_stayed_down_until_the_nan_still_counts():
    run = _run({"train/loss": np.r_[2.3, 1.6, 1.1, 0.7, 0.4, 0.2, NAN]})
    assert _fired("numerical_instability", FELL_SAYS, run) is True
    assert _fired("lr_too_high", FELL_SAYS, run) is True

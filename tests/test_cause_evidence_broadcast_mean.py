"""A regression whose R^2 never rises above 0 while its training loss slides smoothly and little
onto the targets' variance: the outputs converge on the mean, the best fit of a prediction
broadcast against every target ((N,1) vs (N,)); qa_begin44 diabetes: 1.08 -> 0.99, R2 <= 0,
shape_broadcast_bug 7th behind dying_relu."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

FOR = "the R^2 never rose above 0 while"


def test_a_smooth_slide_onto_the_mean_with_r2_at_most_zero():
    run = _run({"train/loss": 0.99 + 0.09 * 0.8 ** np.arange(40), "val/loss": np.full(40, 1.17),
                "val/r2": -0.03 + 0.0 * np.arange(40)})  # fmt: skip
    assert _fired("shape_broadcast_bug", FOR, run) is True


def test_a_loss_that_jumps_to_the_mean_or_an_r2_above_zero_is_not():
    jumpy = 1.05 + 0.06 * np.sin(np.arange(40))  # units dying: an erratic, flat loss
    run = _run({"train/loss": jumpy, "val/loss": np.full(40, 1.06), "val/r2": np.full(40, -0.01)})
    assert _fired("shape_broadcast_bug", FOR, run) is not True
    fits = _run({"train/loss": 0.99 + 0.09 * 0.8 ** np.arange(40), "val/r2": np.linspace(0.1, 0.4, 40)})
    assert _fired("shape_broadcast_bug", FOR, fits) is not True

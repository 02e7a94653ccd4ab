"""A real Keras 3 ``fit(verbose=1)`` capture (qa_keras40's one-sigmoid-unit BCE on ten class
ids, its stdout redirected to a file: ``\\b``/``\\r``/ANSI bar rewrites) read as segment
means: each bar state shows the running mean of the epoch so far; the reader turns two
consecutive states into the mean of the batches between them, so the points weighted by
their batch counts give back the epoch's mean and the first point is batch 1's own loss.
Kept over "the epoch-end state only" by measurement: on qa_keras40 the epoch-end reading
moved this run from wrong_loss_function in the top 3 to loss_sign_flipped 79 % (its first
point, the epoch mean -8.45, hides that the loss started positive at 0.19 and crossed 0) and
changed no top-1 elsewhere in qa_keras40 or qa_fresh27."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import read

RUN = Path(__file__).resolve().parent.parent / "fixtures/qa_keras40/logs" / (
    "kb_digits_dense_one_sigmoid_unit_bce_on_ten_class_ids_progbar_stdout_callback_tf/buggy"
)


def test_progbar_running_means_read_as_segment_means() -> None:
    s = read(RUN)[0].series["train/loss"]
    x, y = np.asarray(s.steps), np.asarray(s.values)
    assert x[0] == 1 and y[0] == pytest.approx(0.1937)  # '1/38 ... loss: 0.1937'
    first_epoch = x <= 38
    counts = np.diff(np.r_[0, x[first_epoch]])
    # '38/38 ... loss: -8.4502': the epoch's running mean at its last batch
    assert float((counts * y[first_epoch]).sum() / 38) == pytest.approx(-8.4502, abs=1e-3)
    assert y[1] == pytest.approx((21 * -4.5177 - 0.1937) / 20, abs=1e-3)  # batches 2..21

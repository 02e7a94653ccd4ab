"""The LR-against-the-optimizer evidence of lr_too_high reads every Adam-style optimizer.

qa_mixed43's flax AMSGrad at LR 0.3 (the Recorder recorded optimizer 'amsgrad') got no LR
evidence: the items named adam, adamw and rmsprop only. optax and torch also record nadam,
adamax, radam, adabelief and lion, all with a usual LR of 1e-4 to 3e-3; adagrad and adadelta
(usual LR 1e-2 to 1) stay out.
"""

from __future__ import annotations

import numpy as np
import pytest
from cause_evidence import evidence_holds, series_run

LOSS = {"train/loss": np.linspace(1.4, 1.3, 20)}


@pytest.mark.parametrize("name", ["adam", "amsgrad", "nadam", "adamax", "radam", "adabelief", "lion"])
def test_an_adam_style_optimizer_at_lr_0_3_is_lr_evidence(name):
    run = series_run(LOSS, {"optimizer": {"name": name, "lr": 0.3}})
    assert evidence_holds("lr_too_high", "adaptive optimizer with LR", run) is True
    assert evidence_holds("lr_too_high", "an adaptive optimizer with LR", run) is True


@pytest.mark.parametrize("name", ["adagrad", "adadelta", "sgd"])
def test_optimizers_whose_usual_lr_is_large_are_not_read_so(name):
    run = series_run(LOSS, {"optimizer": {"name": name, "lr": 0.05}})
    assert evidence_holds("lr_too_high", "adaptive optimizer with LR", run) is not True


def test_adam_at_its_usual_lr_is_no_evidence():
    run = series_run(LOSS, {"optimizer": {"name": "amsgrad", "lr": 1e-3}})
    assert evidence_holds("lr_too_high", "adaptive optimizer with LR", run) is not True

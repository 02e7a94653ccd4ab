"""Adadelta left at Keras's default LR (gapsr48).

Adadelta's step is RMS(past updates) / RMS(gradients) times an LR the method defines as 1.0
(torch's default); Keras's default is 0.001. A Keras run that keeps it crawls - the optimizer's
setting as shipped (optimizer_choice, "settings unsuited"), not a step size picked too small; a
torch Adadelta at 1e-3 was picked (its default is 1.0), and stays lr_too_low's. The adapter
records the optimizer's name and LR; the rulebook's shared condition
``keras_adadelta_at_its_default_lr`` reads them (qa_real48's Keras digits MLP was lr_too_low 79 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent
PAIR = ROOT / "fixtures/qa_real48/logs/kb_digits_mlp_adadelta_default_learning_rate_0001_csvlogger_callback_tf"
LOSS = 2.34 - 0.0007 * np.arange(30.0)
SAYS = "Adadelta at Keras's default LR"


def _ctx(name: str, lr: float, framework: str = "keras") -> dict:
    return {"framework": framework, "optimizer": {"name": name, "lr": lr}}


def test_adadelta_at_a_thousandth_of_its_design_lr_points_to_the_setting():
    run = _run({"loss": LOSS}, _ctx("adadelta", 0.001))
    assert _holds("optimizer_choice", SAYS, run) is True
    assert _holds("lr_too_low", SAYS, run) is True


def test_adadelta_at_its_design_lr_is_no_evidence():
    run = _run({"loss": LOSS}, _ctx("adadelta", 1.0))
    assert _holds("optimizer_choice", SAYS, run) is False


def test_torch_adadelta_at_a_chosen_1e3_is_an_lr_choice_not_this():
    # torch's default is 1.0: an LR of 1e-3 there was picked (lr_too_low's, qa_mixed41)
    run = _run({"loss": LOSS}, _ctx("adadelta", 0.001, "torch"))
    assert _holds("optimizer_choice", SAYS, run) is False
    assert _holds("lr_too_low", SAYS, run) is False


def test_another_optimizer_at_the_same_lr_is_no_evidence():
    run = _run({"loss": LOSS}, _ctx("adam", 0.001))
    assert _holds("optimizer_choice", SAYS, run) is False


def test_keras_callback_run_ranks_the_optimizer_setting_first_and_its_fix():
    buggy = diagnose(PAIR / "buggy_adapter", learned=False)[0]
    assert buggy.causes[0].id == "optimizer_choice"
    fixes = " ".join(f.text for f in buggy.causes[0].fixes)
    assert "learning_rate=1.0" in fixes
    fixed = diagnose(PAIR / "fixed_adapter", learned=False)[0]
    assert fixed.healthy

"""Adagrad left at Keras's default LR (gapsk50, qa_keras50).

Adagrad's step is LR / sqrt(accumulated squared gradients) and shrinks every step; it is
usually run at 1e-2 to 1e-1 (torch's default 0.01), while Keras 3 ships 0.001. A Keras run
that passes ``optimizer="adagrad"`` crawls - the optimizer's setting as shipped
(optimizer_choice), not a step size picked too small; a torch Adagrad at 1e-3 was picked (its
default is 0.01) and is no evidence here. The shared condition
``keras_adagrad_at_its_default_lr`` reads the adapter's optimizer name and LR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent
PAIR = ROOT / "fixtures/qa_keras50/logs/kj_digits_csv_mlp_optimizer_adagrad_string_default_lr_0001_history_json_callback_jax"
LOSS = 2.31 - 0.025 * np.arange(20.0)
SAYS = "Adagrad at Keras's default LR"


def _ctx(name: str, lr: float, framework: str = "keras") -> dict:
    return {"framework": framework, "optimizer": {"name": name, "lr": lr}}


def test_keras_adagrad_at_its_default_points_to_the_setting():
    run = _run({"loss": LOSS}, _ctx("adagrad", 0.001))
    assert _holds("optimizer_choice", SAYS, run) is True
    assert _holds("lr_too_low", SAYS, run) is True


def test_adagrad_at_its_usual_lr_or_in_torch_is_no_evidence():
    assert _holds("optimizer_choice", SAYS, _run({"loss": LOSS}, _ctx("adagrad", 0.01))) is False
    assert _holds("optimizer_choice", SAYS, _run({"loss": LOSS}, _ctx("adagrad", 0.001, "torch"))) is False
    assert _holds("optimizer_choice", SAYS, _run({"loss": LOSS}, _ctx("adam", 0.001))) is False


def test_keras_callback_run_ranks_the_optimizer_setting_first_and_its_fix():
    buggy = diagnose(PAIR / "buggy_adapter", learned=False)[0]
    assert buggy.causes[0].id == "optimizer_choice"
    assert "Adagrad(learning_rate=0.01)" in " ".join(f.text for f in buggy.causes[0].fixes)
    assert diagnose(PAIR / "fixed_adapter", learned=False)[0].healthy

"""Warnings the learned layer had cleared on buggy Q&A runs although they fire on (almost) no
healthy labelled run: LOSS026 (a first loss 1,000x every later value; 0 of 2,208 healthy runs),
GEN005 (validation loss far above training loss from the first evaluation; 0 of 2,208) and
LOSS019 (a classifier's loss starting above 10; 1 of 2,208, a run flagged already). Each is
now a verdict gate (``never_healthy``): the run keeps its finding whatever p(healthy) says."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx
from traindx.rules.loader import load_rulebook

FIX = Path(__file__).resolve().parent.parent / "fixtures"
RUNS = {
    "LOSS026": FIX / "qa" / "logs" / "keras_labels_normalized" / "buggy",
    "GEN005": FIX / "qa_fresh28" / "logs" / "torch_quantile_forecast_pinball_sign_flipped_pt" / "buggy",
    "LOSS019": FIX / "qa_wild_keras" / "logs" / "kw_class_weight_inverted" / "buggy",
}


@pytest.mark.parametrize("code", sorted(RUNS))
def test_the_gate_is_marked(code):
    assert load_rulebook().never_healthy(code)


@pytest.mark.parametrize("code", sorted(RUNS))
def test_a_buggy_run_the_layer_cleared_keeps_its_finding(code):
    d = traindx.diagnose(RUNS[code])[0]
    assert code in {s.code for s in d.symptoms}
    assert not d.healthy and d.verdict == "findings", d.headline


LSTM1 = FIX / "qa_heldout" / "logs" / "torch_lstm_hidden_size_one"


def test_accuracy_never_reaching_half_is_not_healthy():
    # ACC013: a hidden size of 1 holds training and validation accuracy under 0.40 (was "healthy")
    d = traindx.diagnose(LSTM1 / "buggy")[0]
    assert "ACC013" in {s.code for s in d.symptoms}
    assert not d.healthy and load_rulebook().never_healthy("ACC013")


def test_its_fixed_twin_stays_healthy():
    d = traindx.diagnose(LSTM1 / "fixed")[0]
    assert d.healthy and "ACC013" not in {s.code for s in d.symptoms}, d.headline

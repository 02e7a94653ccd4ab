"""Session 42's unseen batches: runs whose accuracy never changed were called healthy (qa_begin42's
flax raw-features run: validation accuracy at the majority share for 39 epochs, the learned layer's
p(healthy) above its threshold). ACC017 - the accuracy has one value at every evaluation - is a
verdict gate (``never_healthy``, like ACC013): 0 of 2,436 healthy labelled runs, 852 of 4,106
faulty ones."""

from __future__ import annotations

from pathlib import Path

import traindx
from traindx.rules.loader import load_rulebook

FIX = Path(__file__).resolve().parent.parent / "fixtures"
FLAX = FIX / "qa_begin42" / "logs" / "jax_flax_beginner_cancer_raw_features_unscaled_sgd_train_cost_json_recorder"


def test_the_frozen_accuracy_gate_is_marked_and_weighs_no_cause():
    book = load_rulebook()
    assert book.never_healthy("ACC017")
    for cause in book.causes:
        assert "ACC017" not in cause.explains, cause.id


def test_accuracy_frozen_at_the_prior_is_not_healthy():
    d = traindx.diagnose(FLAX / "buggy")[0]
    assert "ACC017" in {s.code for s in d.symptoms}
    assert not d.healthy and d.verdict == "findings", d.headline


def test_its_fixed_twin_stays_healthy():
    d = traindx.diagnose(FLAX / "fixed")[0]
    assert d.healthy and "ACC017" not in {s.code for s in d.symptoms}, d.headline

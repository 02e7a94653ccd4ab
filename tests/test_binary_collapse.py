"""LOSS032: a binary loss that fell from 2 nats or more onto the class prior's entropy H(a), the
accuracy frozen at a (qa_fresh42 breast cancer on raw features: first loss 9.85, then 0.66 =
H(0.6303) beside a validation accuracy of 0.6303 every epoch); its fixed run learns."""

from __future__ import annotations

from pathlib import Path

import pytest

from traindx.engine import diagnose_run
from traindx.readers import read
from traindx.rules.loader import load_rulebook
from traindx.signals import compute_facts
from traindx.signals.degenerate import binary_entropy

PAIR = (Path(__file__).resolve().parent.parent / "fixtures" / "qa_fresh42" / "logs"
        / "torch_breast_cancer_raw_features_sgd_steplr_csv_writer_monitor")


def test_prior_entropy_is_h_of_the_frozen_accuracy():
    (run,) = read(PAIR / "buggy")
    d = compute_facts(run)["degen"]
    assert d["acc_mode"] == pytest.approx(0.6303)
    assert d["prior_entropy"] == pytest.approx(binary_entropy(0.6303))
    assert d["prior_loss_ratio"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("which,fires", [("buggy", True), ("buggy_adapter", True), ("fixed", False), ("fixed_adapter", False)])
def test_loss032_on_the_collapse_not_on_the_fixed_run(which: str, fires: bool):
    (run,) = read(PAIR / which)
    diag = diagnose_run(run, load_rulebook())
    assert ("LOSS032" in {s.code for s in diag.symptoms}) is fires


def test_the_collapse_counts_against_class_imbalance():
    (run,) = read(PAIR / "buggy")
    diag = diagnose_run(run, load_rulebook())
    probs = {c.id: c.probability for c in diag.causes}
    assert probs["inputs_not_normalized"] > probs.get("class_imbalance", 0.0)
